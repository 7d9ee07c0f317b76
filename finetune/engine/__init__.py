"""The engine's layer: training, prediction, the runner, reproduce and zero-shot, built on finetune.core."""
