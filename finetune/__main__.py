# ruff: noqa: E402  -- the environment is settled before huggingface_hub is imported (it reads it then)
import sys

from .core.checkpoints import use_persistent_cache

use_persistent_cache()  # the Hugging Face cache on persistent storage, when there is some

from .cli import main

sys.exit(main())
