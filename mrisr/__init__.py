__version__ = "0.1.0"
# The one hand-written file in mrisr/ (nbdev convention: nbdev_export keeps __version__ in sync from settings.ini).
# `compat` must run before anything imports torchvision (through timm or lpips): see nbs/00_compat.ipynb.
from . import compat
