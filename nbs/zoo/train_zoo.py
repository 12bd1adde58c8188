#!/usr/bin/env python
"""Train one of the pretrained models shipped in mrisr/weights, score it on held-out subjects, write its model card.

The recipe of every shipped model is this script plus `zoo.yml` beside it (data, model, TrainConfig). From the
repository root, one CPU thread (7-45 minutes per model on a 2-core AMD EPYC, depending on its load):

    OMP_NUM_THREADS=1 .venv/bin/python nbs/zoo/train_zoo.py tdsr-small-x2            # train, score; card in the run folder
    OMP_NUM_THREADS=1 .venv/bin/python nbs/zoo/train_zoo.py tdsr-small-x2 --install  # ... and replace mrisr/weights/tdsr-small-x2.*

Steps: (1) the 2 mm IXI subjects are split by subject (`mrisr.data.build_splits`, seed 0); the training set is the
training subjects plus the clinical exam's four contrasts; (2) `mrisr.train.train` trains the model (the paper's loss,
Eq. 11, and Adam) on random patches, validating on the validation subjects at the end only (monitoring: the shipped
weights are the last ones, not a selected checkpoint); (3) `mrisr.evaluate.evaluate` scores the model and bicubic
interpolation on the held-out sets (PSNR, SSIM, LPIPS); (4) `mrisr.zoo.save_pretrained` writes the safetensors weights
and the card (JSON + markdown). The run folder (default runs/zoo/NAME) keeps log.csv, config.yaml, last.pt, scores.csv.
"""
import argparse, json, os, sys, time, warnings
from pathlib import Path
import numpy as np
import torch
import yaml
from torch.utils.data import ConcatDataset, Subset

import mrisr
from mrisr.core import sample_data_dir, project_root
from mrisr.baselines import build, Bicubic
from mrisr.data import SRDataset, build_splits
from mrisr.train import TrainConfig, train, load_checkpoint, read_log
from mrisr.evaluate import METRICS, evaluate, read_csv, vs_bicubic, write_csv
from mrisr.metrics import lpips_or_none
from mrisr.presets import cpu_model, git_state
from mrisr.zoo import save_pretrained, check_scores, weights_dir

HERE = Path(__file__).resolve().parent
LICENCES = {'ixi-2mm': 'IXI, CC BY-SA 3.0', 'ixi': 'IXI, CC BY-SA 3.0', 'clinical': 'TCGA-LGG via TCIA, CC BY 3.0',
            'pd': 'niivue-demo-images, CC BY-NC 4.0'}
CONTRASTS = {'t1': 'T1w', 't1c': 'T1w + contrast', 't2': 'T2w', 'flair': 'FLAIR', 'T1': 'T1w', 'T2': 'T2w', 'PD': 'PD'}
INTENDED_USE = ('Research and teaching only: trying mrisr on a scan without training a model, and comparing SR methods. '
                'Not a medical device: not for diagnosis, treatment or any clinical decision. Trained on very little data '
                '(8 subjects) for minutes on a CPU; super-resolution invents plausible detail that may not be in the '
                'patient, and this model has not been validated on pathology, other scanners or other contrasts than those '
                'listed under Data.')
LICENCE = ('CC BY-SA 3.0 (the licence of the IXI training data, which the weights inherit); the clinical training '
           'volumes (TCGA-LGG, The Cancer Imaging Archive) are CC BY 3.0, which requires attribution')
DATA_NOTE = ('Split by whole subjects. The 10 IXI 2 mm T1 subjects of the sample data are split 7 / 2 / 1 by '
             '`mrisr.data.build_splits` (seed 0); the training set adds the four contrasts of the clinical exam '
             'TCGA-FG-6692 (in-plane slices, 0.9 mm). Held out: the 3 other 2 mm subjects, IXI002 (T1 and T2 at '
             'their original resolution: another site and scanner) and the PD volume (never trained on: its CC BY-NC '
             'licence is incompatible with the weights\' CC BY-SA). LR slices are made from the HR slices by keeping the '
             'centre of k-space (the paper\'s degradation, Eq. 2-3); intensities are normalised per volume to [0, 1] '
             '(99.5th foreground percentile -> 1).')


def subject_of(path:Path) -> str:
    "IXI012 for IXI012-HH-1211-T1_ds.nii.gz, TCGA-FG-6692 for the clinical files, the stem otherwise."
    n = path.name
    if n.startswith('IXI'): return n[:6]
    if n.startswith('TCGA'): return n.split('_')[0]
    return n.split('.')[0]

def contrast_of(path:Path) -> str:
    n = path.name.split('.')[0].replace('_ds', '')
    return CONTRASTS.get(n.rsplit('_', 1)[-1] if '_' in n else n.rsplit('-', 1)[-1], CONTRASTS.get(n.rsplit('-', 1)[-1], '?'))

def describe(paths, role:str, n_slices=None) -> list:
    root = sample_data_dir()
    return [dict(file=str(Path(p).relative_to(root)), subject=subject_of(Path(p)), contrast=contrast_of(Path(p)),
                 licence=LICENCES[Path(p).relative_to(root).parts[0]], role=role,
                 **({'slices': n_slices[i]} if n_slices else {})) for i, p in enumerate(paths)]

def datasets(data:dict, scale:int):
    "(train dataset, val dataset, {set name: (dataset, subjects)}, data description) from the `data` section."
    sp = data['split']
    sets = build_splits(sample_data_dir(sp['root']), scale, hr_size=sp['hr_size'], degradation='kspace',
                        ratios=tuple(sp['ratios']), seed=sp['seed'], augment=True, progress=False)
    ex = data['extra_train']
    extra = SRDataset([sample_data_dir(f) for f in ex['files']], scale, hr_size=ex['hr_size'], degradation='kspace',
                      augment=True, progress=False)
    train_ds = ConcatDataset([sets['train']] + [extra] * int(ex.get('repeat', 1)))
    val = sets['val']
    val_ds = Subset(val, range(0, len(val), data['val_every']))
    held = {}
    for h in data['heldout']:
        if h['files'] == 'split':
            parts = [sets[k] for k in h['subsets']]
            ds = ConcatDataset(parts) if len(parts) > 1 else parts[0]
            subjects = sorted(s for p in parts for s in p.subjects)
            files = [sc.path for p in parts for sc in p.scans]
        else:
            files = [sample_data_dir(f) for f in h['files']]
            ds = SRDataset(files, scale, hr_size=h['hr_size'], degradation='kspace', seed=0, progress=False)
            subjects = sorted({subject_of(Path(f)) for f in files})
        held[h['set']] = (Subset(ds, range(0, len(ds), h['every'])), subjects, files)
    desc = dict(note=DATA_NOTE,
                train=describe([s.path for s in sets['train'].scans], 'train', [e[0]['shape'][0] for e in sets['train'].entries])
                      + describe([s.path for s in extra.scans], 'train', [e[0]['shape'][0] for e in extra.entries]),
                val=describe([s.path for s in val.scans], 'val', [e[0]['shape'][0] for e in val.entries]),
                test=[d for name, (_, _, files) in held.items() for d in describe(files, 'test')
                      if d['file'] not in {v['file'] for v in describe([s.path for s in val.scans], 'val')}])
    return train_ds, val_ds, held, desc

def score(model, held:dict, lpips, out_csv:Path, name:str) -> list:
    "Held-out scores of the model and of bicubic on the same LR slices (`mrisr.evaluate.evaluate`): one row per set."
    if out_csv.exists(): per_slice = read_csv(out_csv)      # scored already (--score-only reuses them; --rescore redoes them)
    else:
        per_slice = []
        for set_name, (ds, _, _) in held.items():
            rows = evaluate(model, ds, lpips=lpips, batch_size=4, name=name, device='cpu', progress=True)
            per_slice += [dict(r, set=set_name) for r in rows]
        write_csv(per_slice, out_csv, overwrite=True)
    out = []
    for set_name, (ds, subjects, _) in held.items():
        rows = [r for r in per_slice if r['set'] == set_name and r['model'] == name]
        mean = lambda k: float(np.mean([r[k] for r in rows])) if rows and all(r.get(k) is not None for r in rows) else None
        r = dict(set=set_name, subjects=subjects, slices=len(rows),
                 model={k: mean(k) for k in METRICS if mean(k) is not None},
                 bicubic={k: mean(f'bicubic_{k}') for k in METRICS if mean(f'bicubic_{k}') is not None},
                 psnr_higher=vs_bicubic(rows)[0]['psnr_higher'])
        print(f"  {set_name} ({len(rows)} slices): {name} {r['model']} | bicubic {r['bicubic']}", flush=True)
        out.append(r)
    return out

def warm_start(model, init:dict) -> str:
    "Copy the weights of a shipped model into parts of `model`: init = {model: NAME, map: {target prefix: source prefix}}."
    from mrisr.zoo import pretrained, read_card
    src = pretrained(init['model']).state_dict()
    own = model.state_dict()
    new = {}
    for dst, frm in init['map'].items():
        keys = [k for k in own if k == dst or k.startswith(dst + '.')]
        if not keys: raise ValueError(f"warm start: the model has no part {dst!r}")
        for k in keys: new[k] = src[frm + k[len(dst):]]
    model.load_state_dict(new, strict=False)
    pairs = ', '.join(f'{d} <- {f}' for d, f in init['map'].items())
    rest = sorted({k.rsplit('.', 1)[0] for k in own if k not in new})
    return (f"initialised from the shipped {init['model']} (weights file sha256 {read_card(init['model'])['sha256'][:12]}...): "
            f"{pairs}" + (f"; {', '.join(rest)} from the seed" if rest else ' (all of it)'))

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('name', help='a model of zoo.yml, e.g. tdsr-small-x2')
    p.add_argument('--config', default=HERE/'zoo.yml', type=Path)
    p.add_argument('--out', default=None, type=Path, help='run folder (default: runs/zoo/NAME in the repository)')
    p.add_argument('--resume', action='store_true', help='continue the run in --out')
    p.add_argument('--score-only', action='store_true', help='skip training: score the last.pt of the run folder')
    p.add_argument('--rescore', action='store_true', help='score again even if the run folder holds scores.csv')
    p.add_argument('--install', action='store_true', help='write the weights and card into mrisr/weights (replacing them)')
    p.add_argument('--max-steps', type=int, default=None, help='stop after this many steps (a smoke test of the script)')
    a = p.parse_args()
    cfg = yaml.safe_load(a.config.read_text())
    if a.name not in cfg['models']: sys.exit(f"{a.config}: no model {a.name!r}; the models are {', '.join(cfg['models'])}")
    mc = cfg['models'][a.name]
    out = a.out or (project_root() or Path.cwd())/'runs'/'zoo'/a.name
    spec = dict(mc['model'])
    tc = TrainConfig.from_dict(mc['train'], source=f'{a.config}: {a.name}.train')
    if a.max_steps is not None: tc = tc.replace(max_steps=a.max_steps)
    model = build(spec.pop('name'), spec.pop('scale'), spec.pop('preset'), seed=tc.seed, **spec)
    scale = model.scale
    warm = warm_start(model, mc['init_from']) if mc.get('init_from') else None
    if warm: print(warm, flush=True)
    train_ds, val_ds, held, desc = datasets(cfg['data'], scale)
    print(f"{a.name}: {sum(p.numel() for p in model.parameters())} parameters; {len(train_ds)} training slices, "
          f"{len(val_ds)} validation slices; held out: {', '.join(f'{k} ({len(v[0])})' for k, v in held.items())}", flush=True)
    t0 = time.time()
    if not a.score_only:
        (out/'scores.csv').unlink(missing_ok=True)
        res = train(model, train_ds, val_ds, tc, out, resume=a.resume, overwrite=not a.resume)
        print(f"trained: {res['step']} steps, final validation {res['metrics']}, bicubic {res['bicubic']}", flush=True)
    ck = load_checkpoint(out/'last.pt', model)
    log = read_log(out)
    wall = max((r['seconds'] or 0) for r in log) if log else time.time() - t0
    model.eval()
    lpips = lpips_or_none()
    print('scoring the held-out sets ...', flush=True)
    t1 = time.time()
    if a.rescore: (out/'scores.csv').unlink(missing_ok=True)
    metrics = score(model, held, lpips, out/'scores.csv', a.name)
    check = dict(cfg['data']['check'], scale=scale)
    check.update(check_scores(model, check))
    first = metrics[0]
    gain = first['model']['psnr'] - first['bicubic']['psnr']
    n = sum(p.numel() for p in model.parameters())
    card = dict(
        summary=mc['summary'].format(kparams=round(n / 1000), gain=gain, set=f"{first['set']} subjects"),
        variant=mc.get('variant'), licence=LICENCE, intended_use=INTENDED_USE, data=desc,
        recipe=dict(script='nbs/zoo/train_zoo.py', config=f'nbs/zoo/zoo.yml (models.{a.name})',
                    note='mrisr.train.train (the paper\'s loss, Eq. 11: L1 + 0.01 constraint + 0.01 Sobel edge; Adam) on '
                         'random HR patches with flips and rotations; the weights of the last step are shipped (no '
                         'checkpoint selection). The global bicubic skip of TDSR-small is not in the paper (Fig. 2 has '
                         'none); without it minutes of CPU training stay below bicubic (nbs/13a_recipe.ipynb).',
                    init_from=warm, train=tc.to_dict(), steps=int(ck['step']), epochs=int(ck['epoch']), seed=tc.seed,
                    wall_seconds=round(wall, 1), scoring_seconds=round(time.time() - t1, 1),
                    machine=f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch thread(s), "
                            "shared with other jobs (wall times are under load)",
                    git=git_state(), final_validation=ck.get('metrics'), validation_bicubic=ck.get('bicubic')),
        metrics=metrics,
        metrics_note=('Mean over the slices listed (every n-th selected slice of each held-out volume, HR cropped or '
                      'padded to the size given in zoo.yml); outputs clamped to [0, 1]; PSNR/SSIM with data range 1; LPIPS '
                      'AlexNet v0.1 on the grey slice replicated to RGB (mrisr.evaluate).'
                      + ('' if lpips is not None else ' LPIPS was not available when this card was made.')),
        check=check)
    folder = weights_dir() if a.install else out/'pretrained'
    card = save_pretrained(model, a.name, card, folder, overwrite=True)
    print(f"{a.name}: {card['summary']}\n-> {folder/card['weights']} (sha256 {card['sha256']})", flush=True)

if __name__ == '__main__':
    warnings.filterwarnings('ignore', message='.*TypedStorage.*')
    main()
