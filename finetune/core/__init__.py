"""The core: tasks, data, models, methods, metrics and the run store. Imports nothing from the engine or front ends."""
