import sys

from ..core.environment import settle

settle()  # before the libraries that read the environment start

from .run import main  # noqa: E402

sys.exit(main())
