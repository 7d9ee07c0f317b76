"""Form inputs generated from settings (RunConfig's and each method's Options): label, help and default
come from the setting, so a new setting or a new method's options appear in the Train tab by themselves."""

from __future__ import annotations

from typing import Any

import gradio as gr

from finetune.core.fields import Setting

from .locales import setting_help, t


def input_for(item: Setting, elem_id: str, value: Any = None) -> gr.components.Component:
    """One input for a setting; `value` overrides the setting's default as the initial value."""
    initial = item.default if value is None and not item.required else value
    common: dict[str, Any] = {"label": t(item.label), "info": setting_help(item), "elem_id": elem_id}
    if item.kind is bool:
        return gr.Checkbox(value=bool(initial), **common)
    if item.kind is str and item.spec.choices is not None:
        return gr.Dropdown(item.spec.choices(), value=initial, **common)
    if item.kind is str:
        return gr.Textbox(value=initial or "", max_lines=1, **common)
    if initial is None:
        # A number whose default is "decided later" (the whole dev set, a third of the layers): gr.Number shows
        # an empty value as 0 once it is first drawn (an accordion opened, a method's group shown), and 0 is
        # out of bounds. Empty text means the default; the setting's parser reads typed numbers.
        return gr.Textbox(value="", max_lines=1, placeholder=t("default"), **common)
    # No `precision`: gr.Number would round 2.5 to 2 silently; the setting's parser says "a whole number".
    return gr.Number(value=initial, **common)
