__version__ = "0.1.0"
# The one hand-written file in mrisr/ (nbdev convention: nbdev_export keeps __version__ in sync from settings.ini).
# `compat` must run before anything imports torchvision (through timm or lpips): see nbs/00_compat.ipynb.
from . import compat

def pretrained(name:str, # a shipped model, e.g. 'tdsr-small-x2' (`mrisr.zoo.list_models()` lists them)
               **kwargs, # `mrisr.zoo.pretrained` options: device, folder
              ):
    "A pretrained model shipped with mrisr, in eval mode, its weights checked by SHA-256 (`mrisr.zoo.pretrained`)."
    from mrisr.zoo import pretrained as _pretrained   # on first use: `import mrisr` stays fast
    return _pretrained(name, **kwargs)
