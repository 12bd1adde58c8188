#!/usr/bin/env python3
"""`make gpu-check`: everything GPU-specific about mrisr, measured in one command (issue #13, section 1).

Subcommands (the narrative, the dry run that keeps this file honest, and the cost model are in gpu_check.ipynb):
  wheels   here, with a package index: the project's pure-Python dependencies (not torch) as wheels for the GPU
           machine's Python, plus the sample volumes the check reads, into one folder to carry to that machine
  install  there, without an index: pip-install into a private folder the wheels whose distribution is missing
  run      there: every section (correctness, throughput, end to end) in its own process under one time budget,
           one JSON of every number, and the estimated GPU-hours of the paper preset; `--dry-run` runs the same code
           on the CPU with tiny models and sizes (nccl -> gloo, inductor -> aot_eager): the test runner does that
The top level imports only the standard library: `install` must run before mrisr's dependencies are importable."""
import argparse, json, math, os, shutil, subprocess, sys, tempfile, time, traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent                   # the repository (nbs/benchmarks/ is two below it)
VOLUMES = {'ixi_t2': 'ixi/IXI002-Guys-0828-T2.nii.gz', 'clinical_t2': 'clinical/TCGA-FG-6692_t2.nii.gz'}
IXI_T1 = 'ixi/IXI002-Guys-0828-T1.nii.gz'  # read by the cost model (slices per IXI T1 volume)
SECTIONS = ('env', 'correctness', 'inference', 'train', 'train_rates', 'e2e', 'torchrun', 'cli', 'upscale', 'compile')
# per section: (seconds it may take at most, seconds it needs at least to be worth starting), on the GPU machine
LIMITS = dict(env=(60, 10), correctness=(60, 15), inference=(100, 30), train=(60, 20), train_rates=(90, 30),
              e2e=(150, 40), torchrun=(120, 40), cli=(60, 20), upscale=(120, 30), compile=(200, 60))
BUDGET = 420                                # seconds for `run` on the GPU machine (issue: all of it <= 8 min)
# IXI subjects per modality: the counts of the IXI-T1/T2/PD archives (brain-development.org/ixi-dataset)
IXI_SUBJECTS = {'IXI T1': 581, 'IXI T2': 578, 'IXI PD': 578}

# ---------------------------------------------------------------------------------------------------------- config
def config(dry:bool=False) -> dict:
    "Everything that sets the size of a check; `dry`: tiny models and sizes on the CPU, the same code paths."
    full = dict(
        dry=False, device='cuda', preset='paper', budget=BUDGET,
        matmul=dict(n=8192, dtype='bfloat16', iters=10),
        corr=dict(size=48, batch=2, lte_size=32, scale=4),
        lr_size=64,                                   # inference LR side (64 -> 256 at x4)
        infer=[[m, 4, [8, 32]] for m in ('bicubic', 'edsr', 'liif', 'lte', 'drfsa', 'arssr', 'tdsr')]
              + [['tdsr', 2, [8, 32]], ['tdsr', 8, [8, 32]], ['edsr', 2, [8]], ['edsr', 8, [8]]],
        hr_size=256, train_batches=[8, 32], rate_batch=8, warmup=3, min_time=0.5, min_iters=3, max_iters=50,
        e2e=dict(scale=4, hr_size=256, batch=8, steps=200, workers=2, val_every=5),
        ddp=dict(scale=2, hr_size=256, batch=8, steps=30),
        upscale=dict(scales=[2, 4], crop=None, configs=[
            dict(name='default', batch_size=8, tile=None, max_pixels=None),      # what `mrisr upscale` does
            dict(name='untiled', batch_size=16, tile=0, max_pixels=1 << 26)]),  # the GPU needs no tiles
        compile=dict(backend='inductor', model='tdsr', batches=[8, 32]),
        rate_runs=None,                               # None: every run of the paper preset
        cli_subprocess=True)                          # `python -m mrisr.cli upscale ...`, as a user starts it
    if not dry: return full
    return dict(full, dry=True, device='cpu', preset='tiny', budget=None,
        matmul=dict(n=256, dtype='float32', iters=3),
        corr=dict(size=16, batch=1, lte_size=8, scale=4),
        lr_size=16, infer=[[m, 4, [2]] for m in ('bicubic', 'edsr', 'liif', 'lte', 'drfsa', 'arssr', 'tdsr')]
                         + [['tdsr', 2, [2]], ['tdsr', 8, [2]]],
        hr_size=32, train_batches=[2], rate_batch=2, warmup=0, min_time=0., min_iters=1, max_iters=1,
        e2e=dict(scale=4, hr_size=64, batch=2, steps=3, workers=0, val_every=1),
        ddp=dict(scale=2, hr_size=32, batch=2, steps=2),
        upscale=dict(scales=[4], crop=[24, 24, 2], configs=[
            dict(name='default', batch_size=8, tile=None, max_pixels=None), dict(name='untiled', batch_size=16, tile=0, max_pixels=1 << 26)]),
        # dynamo retraces TDSR's fast LTE for every neighbour offset (minutes on this CPU): the dry run compiles EDSR
        compile=dict(backend='aot_eager', model='edsr', batches=[2]),
        rate_runs=['edsr_x2', 'liif_xany', 'tdsr_x2', 'tdsr_x2_high'],   # one of each kind
        cli_subprocess=False)                         # `mrisr.cli.main([...])` in this process: no second interpreter start

# ------------------------------------------------------------------------------------------------------- helpers
def _torch():
    import torch
    return torch

def device_of(cfg):
    from mrisr.core import resolve_device
    return resolve_device(cfg['device'])

def sync(dev):
    torch = _torch()
    if dev.type == 'cuda': torch.cuda.synchronize(dev)

def reset_peak(dev):
    torch = _torch()
    if dev.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)

def peak_gib(dev):
    "Peak memory the caching allocator handed out since `reset_peak` (GiB); None on the CPU."
    torch = _torch()
    return round(torch.cuda.max_memory_allocated(dev) / 2**30, 3) if dev.type == 'cuda' else None

def timeit(fn, dev, cfg) -> float:
    "Seconds per call of `fn`: warm-up calls, one timed call to size the loop, then a loop of >= min_time seconds."
    for _ in range(cfg['warmup']): fn()
    sync(dev); t = time.perf_counter(); fn(); sync(dev); one = time.perf_counter() - t
    n = max(cfg['min_iters'], min(cfg['max_iters'], math.ceil(cfg['min_time'] / max(one, 1e-9))))
    t = time.perf_counter()
    for _ in range(n): fn()
    sync(dev)
    return (time.perf_counter() - t) / n

def count_flops(fn) -> int:
    "Floating-point operations of `fn()` as `torch.utils.flop_counter` counts them (matmuls, convolutions, attention)."
    torch = _torch()
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count
    # the CPU's fused attention kernel has no formula of its own (CUDA's have): the same count as SDPA's
    cpu = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *a, out_shape=None, **kw: sdpa_flop_count(q, k, v)}
    with FlopCounterMode(display=False, custom_mapping=cpu) as fc: fn()
    return int(fc.get_total_flops())

def error_text(e:BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:500]

def guarded(res:dict, key, fn, dev=None):
    "res[key] = fn(), or an error entry: one failing case (e.g. out of memory) does not end its section."
    try: res[key] = fn()
    except Exception as e:
        res[key] = dict(error=error_text(e))
        if dev is not None and dev.type == 'cuda': _torch().cuda.empty_cache()
    return res[key]

def amp_of(dev) -> bool: return dev.type == 'cuda'   # the trainer's and upscale_volume's 'auto': bf16 on CUDA only

def sample(*parts):
    from mrisr.core import sample_data_dir
    return sample_data_dir(*parts)

# ------------------------------------------------------------------------------------------------------ sections
def sec_env(cfg, res, flush):
    "Versions, the device, and the matrix-multiply rate every throughput is compared with."
    torch = _torch()
    import importlib.metadata as md
    from mrisr.presets import machine_info
    dev = device_of(cfg)
    res['machine'] = machine_info(dev)
    res['packages'] = {}
    for name in ('numpy', 'scipy', 'scikit-image', 'timm', 'nibabel', 'lpips', 'fastcore', 'pooch', 'pyyaml', 'tqdm', 'triton'):
        try: res['packages'][name] = md.version(name)
        except md.PackageNotFoundError: res['packages'][name] = None
    if dev.type == 'cuda':
        p = torch.cuda.get_device_properties(dev)
        res['gpu'] = dict(name=p.name, capability=f'{p.major}.{p.minor}', memory_gib=round(p.total_memory / 2**30, 1),
                          sms=p.multi_processor_count, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                          tf32_matmul=torch.backends.cuda.matmul.allow_tf32, tf32_cudnn=torch.backends.cudnn.allow_tf32)
    flush()
    mm = cfg['matmul']; n = mm['n']
    a, b = (torch.randn(n, n, device=dev, dtype=getattr(torch, mm['dtype'])) for _ in range(2))
    s = timeit(lambda: a @ b, dev, dict(cfg, warmup=3, min_iters=mm['iters'], max_iters=mm['iters']))
    res['matmul'] = dict(n=n, dtype=mm['dtype'], seconds=s, tflops=2 * n**3 / s / 1e12)

def sec_correctness(cfg, res, flush):
    "CPU vs device on the same weights, fast vs general LTE, bf16 autocast vs fp32, finite bf16 gradients."
    torch = _torch()
    import copy
    from mrisr.baselines import build
    from mrisr.lte import LTE
    import mrisr.lte_fast                      # noqa: F401  (adds the fixed x2 form LTE.forward_x2)
    from mrisr.losses import SRLoss
    from mrisr.core import autocast, sr_forward
    dev, c = device_of(cfg), cfg['corr']
    g = torch.Generator().manual_seed(0)
    x = torch.rand(c['batch'], 1, c['size'], c['size'], generator=g)
    m = build('tdsr', c['scale'], cfg['preset'], seed=0).eval()
    def rel(a, b): return ((a.float() - b.float()).norm() / b.float().norm()).item()
    with torch.inference_mode(): y_cpu = m(x)
    md = copy.deepcopy(m).to(dev)
    def on_device(tf32:bool):
        if dev.type == 'cuda': torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
        with torch.inference_mode(): return md(x.to(dev)).cpu()
    defaults = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        for tf32 in ((False, True) if dev.type == 'cuda' else (False,)):
            y = on_device(tf32)
            res[f"cpu_vs_device{'_tf32' if tf32 else ''}"] = dict(max_abs=(y - y_cpu).abs().max().item(), rel=rel(y, y_cpu),
                                                                 out_max=y_cpu.abs().max().item())
    finally:
        if dev.type == 'cuda': torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = defaults
    flush()
    # the fast x2 LTE (TDSR's path) against the general grid_sample form, on the device, paper widths
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0); lte = LTE(64, 64).to(dev)
        f = torch.randn(2, 64, c['lte_size'], c['lte_size'], device=dev)
    with torch.inference_mode():
        gen, fast = lte.upsample(f, (2 * c['lte_size'], 2 * c['lte_size'])), lte.forward_x2(f)
        with autocast(dev, True): fast_bf = lte.forward_x2(f)
    res['lte_fast_vs_general'] = dict(max_abs=(fast - gen).abs().max().item(), rel=rel(fast, gen), bf16_rel=rel(fast_bf, gen))
    # bf16 autocast against fp32, the whole model
    with torch.inference_mode():
        y32 = md(x.to(dev))
        with autocast(dev, True): ybf = md(x.to(dev))
    res['bf16_vs_fp32'] = dict(rel=rel(ybf, y32), max_abs=(ybf.float() - y32).abs().max().item())
    flush()
    # a training step's gradients under bf16 autocast reach every parameter, all finite
    md.train()
    hr = torch.rand(c['batch'], 1, c['size'] * c['scale'], c['size'] * c['scale'], generator=g).to(dev)
    with autocast(dev, True): sr, res_terms = sr_forward(md, x.to(dev), hr.shape[-2:], return_terms=True)
    loss, terms = SRLoss()(sr.float(), hr, res_terms)
    loss.backward()
    named = list(md.named_parameters())
    res['bf16_grads'] = dict(n_params=len(named), loss=terms,
                             missing=[k for k, p in named if p.grad is None],
                             nonfinite=[k for k, p in named if p.grad is not None and not torch.isfinite(p.grad).all()],
                             zero=[k for k, p in named if p.grad is not None and not p.grad.any()])

def sec_inference(cfg, res, flush):
    "Slices/s, GFLOP/slice and peak memory of each model at each (scale, batch), as `upscale_volume` runs them."
    torch = _torch()
    from mrisr.baselines import build
    from mrisr.core import autocast, sr_forward
    dev, h = device_of(cfg), cfg['lr_size']
    for name, scale, batches in cfg['infer']:
        def case(name=name, scale=scale, batches=batches):
            out = dict(name=name, scale=scale, lr=h, out=h * scale)
            m = build(name, scale, cfg['preset'], seed=0).to(dev).eval()
            out['params'] = sum(p.numel() for p in m.parameters())
            def fwd(b):
                x = torch.rand(b, 1, h, h, device=dev)
                def f():
                    with torch.inference_mode(), autocast(dev, amp_of(dev)): return sr_forward(m, x, (h * scale, h * scale))
                return f
            out['gflop_per_slice'] = count_flops(fwd(1)) / 1e9
            for b in batches:
                def one(b=b):
                    reset_peak(dev)
                    s = timeit(fwd(b), dev, cfg)
                    return dict(seconds=s, slices_per_s=b / s, peak_gib=peak_gib(dev),
                                tflops=out['gflop_per_slice'] * b / s / 1e3)
                guarded(out, f'batch{b}', one, dev)
            del m
            return out
        guarded(res, f'{name}_x{scale}', case, dev)
        flush()

def _train_case(cfg, name, scale, batch, lr_scale=None, compile_backend=None, count=True, **overrides):
    "Steps/s, peak memory and TFLOP/s of the trainer's own step (`Trainer.train_step`) for one model on 256² HR slices."
    torch = _torch()
    from mrisr.baselines import build
    from mrisr.train import Trainer, TrainConfig
    dev, hr_size = device_of(cfg), cfg['hr_size']
    model = build(name, scale, cfg['preset'], seed=0, **overrides)
    eq11 = name == 'tdsr'                      # the paper preset: Eq. 11 for TDSR, baselines with their own L1 loss
    tc = TrainConfig(batch_size=batch, hr_size=hr_size, lam=0.01 if eq11 else 0., mu=0.01 if eq11 else 0., device=cfg['device'],
                     progress=False, compile=compile_backend is not None,
                     scale_range=None if lr_scale is None else (lr_scale, lr_scale))   # arbitrary scale: LR remade from HR
    tr = Trainer(model, None, None, tc, out_dir=Path(cfg['workdir'])/'unused')
    tr.setup()                                 # device, bf16/channels_last flags, Adam, the loss (as a run does)
    tr.net = tr.raw if compile_backend is None else torch.compile(tr.raw, backend=compile_backend, dynamic=False)
    g = torch.Generator(device=dev).manual_seed(0)
    lr_side = hr_size // int(scale)
    lr = torch.rand(batch, 1, lr_side, lr_side, device=dev, generator=g)
    hr = torch.rand(batch, 1, hr_size, hr_size, device=dev, generator=g)
    step = lambda: tr.train_step(lr, hr)
    out = dict(name=name, scale=scale, batch=batch, lr=round(hr_size / (lr_scale or scale)), hr=hr_size, amp=tr.amp,
               channels_last=tr.chl, **overrides)
    tr.raw.train()
    if compile_backend is not None:           # the first step compiles: timed on its own
        sync(dev); t = time.perf_counter(); step(); sync(dev); out['compile_s'] = time.perf_counter() - t
    reset_peak(dev)
    s = timeit(step, dev, cfg)
    out.update(seconds=s, steps_per_s=1 / s, slices_per_s=batch / s, peak_gib=peak_gib(dev))
    if count:
        out['tflop_per_step'] = count_flops(step) / 1e12
        out['tflops'] = out['tflop_per_step'] / s
    return out

def sec_train(cfg, res, flush):
    "Training steps/s and peak memory of paper TDSR x4 on 256x256 HR slices, plain."
    dev = device_of(cfg)
    for b in cfg['train_batches']:
        guarded(res, f'tdsr_x4_batch{b}', lambda b=b: _train_case(cfg, 'tdsr', 4, b), dev)
        flush()

def sec_compile(cfg, res, flush):
    "The same steps under `torch.compile` (inductor on the GPU; aot_eager on a small model in the dry run)."
    dev, c = device_of(cfg), cfg['compile']
    for b in c['batches']:
        guarded(res, f"{c['model']}_x4_batch{b}", lambda b=b: _train_case(cfg, c['model'], 4, b, compile_backend=c['backend']), dev)
        flush()

def paper_runs() -> list:
    "The training runs of the paper preset's Table I (datasets that are not optional) and Table II, as `Experiment` makes them."
    from mrisr.presets import RUN_PRESETS, DATASETS, ABLATION_VARIANTS
    from mrisr.baselines import build
    p, runs = RUN_PRESETS['paper'], []
    models = {m: build(m, 2, 'tiny') for m in p.models}
    trained = [m for m in p.models if any(q.requires_grad for q in models[m].parameters())]   # bicubic learns nothing
    for ds in p.datasets:
        if DATASETS[ds].optional: continue
        for name in trained:
            runs += [dict(table='I', dataset=ds, name=name, scale=None)] if getattr(models[name], 'arbitrary_scale', False) else \
                    [dict(table='I', dataset=ds, name=name, scale=s) for s in p.scales]
    for v in ABLATION_VARIANTS:
        if v == 'both': continue                     # the full model: Table I's run on the same data, reused from the cache
        runs += [dict(table='II', dataset=p.ablation_dataset, name='tdsr', scale=s, branches=v) for s in p.scales]
    return runs

def rate_key(run:dict) -> str:
    return f"{run['name']}_x{run['scale'] or 'any'}" + (f"_{run['branches']}" if run.get('branches') else '')

def effective_scale(lo:float, hi:float) -> float:
    "The fixed scale whose LR has the mean LR area of scales drawn from U(lo, hi): 1/sqrt(E[1/s²])."
    return math.sqrt(1 / ((1 / lo - 1 / hi) / (hi - lo))) if hi > lo else lo

def sec_train_rates(cfg, res, flush):
    "Steps/s at the preset's batch of every model the paper preset trains (the cost model's input)."
    from mrisr.baselines import build
    dev = device_of(cfg)
    seen = set()
    for run in paper_runs():
        k = rate_key(run)
        if k in seen or (cfg['rate_runs'] is not None and k not in cfg['rate_runs']): continue
        seen.add(k)
        def case(run=run):
            if run['scale'] is None:                  # arbitrary scale: a random scale per step; its mean LR area
                lo, hi = build(run['name'], 2, 'tiny').train_scale_range
                s = effective_scale(lo, hi)
                return dict(_train_case(cfg, run['name'], 2, cfg['rate_batch'], lr_scale=s, count=False),
                            scale_range=[lo, hi], effective_scale=s)
            kw = dict(branches=run['branches']) if run.get('branches') else {}
            return _train_case(cfg, run['name'], run['scale'], cfg['rate_batch'], count=False, **kw)
        guarded(res, k, case, dev)
        flush()

def _volume(rel:str, crop):
    "A NIfTI image of a sample volume with its voxels decoded into memory (and cropped in the dry run)."
    import numpy as np, nibabel as nib
    img = nib.load(sample(rel))
    if crop: img = img.slicer[tuple(slice((n - c) // 2, (n - c) // 2 + c) for n, c in zip(img.shape, crop))]
    return nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header)

def _e2e_data(cfg, e):
    "Train/val splits of the IXI T2 sample volume (one subject: slabs of slices) at the run's scale and HR size."
    import warnings
    from mrisr.data import build_splits
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')                # 'only 1 subject(s): slabs' is expected here
        return build_splits([sample(VOLUMES['ixi_t2'])], e['scale'], hr_size=e['hr_size'], seed=0, progress=False,
                            cache_dir=Path(cfg['workdir'])/'cache')

def _read_log(out_dir):
    from mrisr.train import read_log
    rows = read_log(out_dir)
    tr, va = [r for r in rows if r['phase'] == 'train'], [r for r in rows if r['phase'] == 'val']
    return dict(train_rows=len(tr), val_rows=len(va), last_step=tr[-1]['step'] if tr else None,
                seconds=tr[-1]['seconds'] if tr else None, last_loss=tr[-1]['total'] if tr else None,
                val_psnr=[round(r['psnr'], 3) for r in va])

def sec_e2e(cfg, res, flush):
    "The real trainer (`mrisr.train.train`) on the real sample data: paper TDSR, validation, checkpoints."
    from mrisr.baselines import build
    from mrisr.train import TrainConfig, train
    e = cfg['e2e']
    sets = _e2e_data(cfg, e)
    res['slices'] = {k: len(v) for k, v in sets.items()}
    out_dir = Path(cfg['workdir'])/'e2e-run'
    model = build('tdsr', e['scale'], cfg['preset'], seed=0)
    tc = TrainConfig(batch_size=e['batch'], hr_size=e['hr_size'], max_steps=e['steps'], epochs=10_000,
                     val_every=e['val_every'], num_workers=e['workers'], device=cfg['device'], progress=False, log_every=10)
    import warnings
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:     # e.g. 'worse than bicubic' after a few hundred steps
        warnings.simplefilter('always')
        r = train(model, sets['train'], sets['val'], tc, out_dir, overwrite=True)
    res.update(wall_s=time.perf_counter() - t, steps=r['step'], epochs=r['epoch'], best=r['best'], metrics=r['metrics'],
               bicubic=r.get('bicubic'), files=sorted(p.name for p in out_dir.iterdir()), log=_read_log(out_dir),
               warnings=sorted({f'{w.category.__name__}: {str(w.message)[:200]}' for w in caught}))
    res['steps_per_s'] = res['steps'] / res['log']['seconds'] if res['log']['seconds'] else None
    res['checkpoint'] = str(out_dir/('best.pt' if (out_dir/'best.pt').exists() else 'last.pt'))

def ddp_child(cfg):
    "Under `torchrun --nproc_per_node=1`: nccl (gloo on the CPU) process group, a DDP step equal to the plain one, the trainer."
    torch = _torch()
    import copy
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    from mrisr.baselines import build
    from mrisr.core import sr_forward
    from mrisr.losses import SRLoss
    from mrisr.train import TrainConfig, train
    res, d = dict(env={k: os.environ.get(k) for k in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR')}), cfg['ddp']
    out = Path(cfg['ddp_out'])
    try:
        dev = device_of(cfg)                            # cuda:LOCAL_RANK
        backend = 'nccl' if dev.type == 'cuda' else 'gloo'
        if dev.type == 'cuda': torch.cuda.set_device(dev)
        dist.init_process_group(backend)
        rank, world = dist.get_rank(), dist.get_world_size()
        res.update(backend=backend, rank=rank, world_size=world)
        if backend == 'nccl':
            v = torch.cuda.nccl.version()                # a tuple in recent torch, an int in older ones
            res['nccl'] = '.'.join(map(str, v)) if isinstance(v, tuple) else str(v)
        t = torch.full((4,), rank + 1., device=dev); dist.all_reduce(t)
        res['all_reduce_ok'] = bool((t == world * (world + 1) / 2).all())
        m1 = build('tdsr', d['scale'], cfg['preset'], seed=0).to(dev).eval()   # eval: no drop-path randomness
        m2 = DDP(copy.deepcopy(m1), device_ids=[dev.index] if dev.type == 'cuda' else None)
        g = torch.Generator().manual_seed(0)
        lr = torch.rand(2, 1, d['hr_size'] // d['scale'], d['hr_size'] // d['scale'], generator=g).to(dev)
        hr = torch.rand(2, 1, d['hr_size'], d['hr_size'], generator=g).to(dev)
        for m in (m1, m2):
            sr, terms = sr_forward(m, lr, hr.shape[-2:], return_terms=True)
            SRLoss()(sr, hr, terms)[0].backward()
        diffs = [((p.grad - q.grad).abs().max() / p.grad.abs().max().clamp_min(1e-30)).item()
                 for p, q in zip(m1.parameters(), m2.module.parameters())]
        res['ddp_vs_plain_grad_rel'] = max(diffs)
        del m1, m2
        e = dict(cfg['e2e'], scale=d['scale'], hr_size=d['hr_size'])
        sets = _e2e_data(cfg, e)
        run_dir = Path(cfg['workdir'])/'ddp-run'
        tc = TrainConfig(batch_size=d['batch'], hr_size=d['hr_size'], max_steps=d['steps'], epochs=10_000,
                         num_workers=0, device=cfg['device'], progress=False, log_every=5)
        t = time.perf_counter()
        r = train(build('tdsr', d['scale'], cfg['preset'], seed=0), sets['train'], sets['val'], tc, run_dir, overwrite=True)
        res['train'] = dict(wall_s=time.perf_counter() - t, steps=r['step'], world_size=r['world_size'],
                            files=sorted(p.name for p in run_dir.iterdir()), log=_read_log(run_dir))
        dist.barrier()
        dist.destroy_process_group()
    except Exception as e:
        res['error'] = error_text(e); res['traceback'] = traceback.format_exc()[-3000:]
    if int(os.environ.get('RANK', 0)) == 0: out.write_text(json.dumps(res, default=str))

def sec_torchrun(cfg, res, flush):
    "`torchrun --standalone --nproc_per_node=1` running `ddp_child` (this file, subcommand ddp-child)."
    ddp_out = Path(cfg['workdir'])/'ddp.json'
    ddp_out.unlink(missing_ok=True)
    cfg_file = Path(cfg['workdir'])/'ddp-cfg.json'
    cfg_file.write_text(json.dumps(dict(cfg, ddp_out=str(ddp_out))))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=1',
           str(Path(__file__).resolve()), 'ddp-child', '--cfg', str(cfg_file)]
    t = time.perf_counter()
    rc, _, err = run_child(cmd, cfg.get('child_timeout', 600), child_env(cfg))
    res.update(command='torchrun --standalone --nproc_per_node=1 gpu_check.py ddp-child', returncode=rc,
               wall_s=time.perf_counter() - t)
    if ddp_out.exists(): res.update(json.loads(ddp_out.read_text()))
    if rc or 'error' in res or not ddp_out.exists():
        res.setdefault('error', f'torchrun exited with {rc}')
        res['stderr_tail'] = err[-2000:]

def sec_cli(cfg, res, flush):
    "`mrisr upscale` on the device: a whole IXI volume, the checkpoint the end-to-end run wrote."
    import nibabel as nib
    vol = Path(cfg['workdir'])/'cli-in.nii.gz'
    img = _volume(VOLUMES['ixi_t2'], cfg['upscale']['crop'])
    nib.save(img, vol)
    ck = cfg.get('checkpoint')
    if not ck or not Path(ck).exists():                        # the end-to-end run failed: random weights, same path
        from mrisr.baselines import build
        from mrisr.train import save_checkpoint
        ck = Path(cfg['workdir'])/'random.pt'
        save_checkpoint(ck, build('tdsr', cfg['e2e']['scale'], cfg['preset'], seed=0))
        res['checkpoint_note'] = 'the end-to-end run wrote no checkpoint: random weights of the same model'
    out = Path(cfg['workdir'])/'cli-out.nii.gz'
    out.unlink(missing_ok=True)
    args = ['upscale', str(vol), str(out), '--checkpoint', str(ck), '--device', cfg['device'], '-q']
    t = time.perf_counter()
    if cfg['cli_subprocess']: rc, out_txt, err = run_child([sys.executable, '-m', 'mrisr.cli', *args], cfg.get('child_timeout', 600), child_env(cfg))
    else:
        import contextlib, io
        from mrisr.cli import main as cli_main
        o, e = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e): rc = cli_main(args)
        out_txt, err = o.getvalue(), e.getvalue()
    res.update(command=('python -m mrisr.cli' if cfg['cli_subprocess'] else 'mrisr.cli.main:') +
                       ' upscale IXI002-T2 out.nii.gz --checkpoint CKPT --device ' + cfg['device'],
               returncode=rc, wall_s=time.perf_counter() - t, stdout=out_txt.strip()[-500:], in_shape=list(img.shape))
    if rc: res['error'] = f'mrisr upscale exited with {rc}: {err.strip()[-1500:]}'
    else: res['out_shape'] = list(nib.load(out).shape)

def sec_upscale(cfg, res, flush):
    "`upscale_volume` on the IXI T2 and clinical T2 volumes at x2/x4 after a warm-up, and the model calls alone."
    torch = _torch()
    import numpy as np
    from mrisr.baselines import build
    from mrisr.core import autocast, sr_forward
    from mrisr.volumes import normalize_intensity
    from mrisr.inference import upscale_volume, pick_slice_axis, CALL_PIXELS
    dev, u = device_of(cfg), cfg['upscale']
    for s in u['scales']:
        model = build('tdsr', s, cfg['preset'], seed=0).to(dev).eval()
        for key, rel in VOLUMES.items():
            img = _volume(rel, u['crop'])
            ax = pick_slice_axis(img.header.get_zooms())
            n = img.shape[ax]
            for c in u['configs']:
                def case(c=c):
                    kw = dict(batch_size=c['batch_size'], tile=c['tile'], max_pixels=c['max_pixels'] or CALL_PIXELS,
                              device=dev, progress=False)
                    warm = img.slicer[tuple(slice(0, min(n, c['batch_size'])) if i == ax else slice(None) for i in range(3))]
                    upscale_volume(warm, model, **kw)                 # warm-up: kernels, allocator
                    reset_peak(dev); sync(dev); t = time.perf_counter()
                    out = upscale_volume(img, model, **kw)
                    sync(dev)
                    return dict(seconds=time.perf_counter() - t, slices=n, in_shape=list(img.shape), out_shape=list(out.shape),
                                peak_gib=peak_gib(dev), **{k: v for k, v in c.items() if k != 'name'})
                guarded(res, f"{key}_x{s}_{c['name']}", case, dev)
                flush()
            def model_only(b=u['configs'][-1]['batch_size']):   # the same slices through sr_forward alone, untiled
                sl = np.moveaxis(normalize_intensity(img.get_fdata(dtype=np.float32)), ax, 0)
                x = torch.from_numpy(np.ascontiguousarray(sl))[:, None].to(dev)
                hw = tuple(s * k for k in x.shape[-2:])
                def f():
                    with torch.inference_mode(), autocast(dev, amp_of(dev)):
                        for i in range(0, len(x), b): sr_forward(model, x[i:i + b], hw)
                f(); sync(dev); t = time.perf_counter(); f(); sync(dev)
                return dict(seconds=time.perf_counter() - t, batch_size=b)
            guarded(res, f'{key}_x{s}_model_only', model_only, dev)
            flush()
        del model

SECTION_FUNCS = dict(env=sec_env, correctness=sec_correctness, inference=sec_inference, train=sec_train,
                     train_rates=sec_train_rates, e2e=sec_e2e, torchrun=sec_torchrun, cli=sec_cli, upscale=sec_upscale,
                     compile=sec_compile)

# ----------------------------------------------------------------------------------------------------- cost model
def slices_per_volume() -> dict:
    "Slices `SRDataset` keeps (foreground >= 30% of the largest) per IXI volume, counted on the sample subject IXI002."
    from mrisr.volumes import load_volume, normalize_intensity
    from mrisr.data import select_slices
    n = {}
    for mod, rel in (('T1', IXI_T1), ('T2', VOLUMES['ixi_t2'])):
        v = load_volume(sample(rel))
        n[mod] = len(select_slices(normalize_intensity(v.data), v.slice_axis))
    n['PD'] = n['T2']                          # IXI PD and T2 are the two echoes of one acquisition: the same grid
    return n

def estimate(results:dict, per_volume:dict|None=None) -> dict:
    "GPU-hours of the paper preset (Table I + II, full IXI, 100 epochs): measured step and inference rates x step counts."
    from mrisr.presets import RUN_PRESETS
    from mrisr.baselines import build
    p = RUN_PRESETS['paper']
    per_volume = per_volume or slices_per_volume()
    rates, infer = results.get('train_rates', {}), results.get('inference', {})
    def val_rate(run):                         # validation slices/s at the preset's batch, at the validation scale
        s = run['scale']
        if s is None:                          # arbitrary scale: Experiment validates at the largest preset scale in range
            lo, hi = build(run['name'], 2, 'tiny').train_scale_range
            s = max([x for x in p.scales if lo <= x <= hi] or [min(p.scales)])
        return infer.get(f"{run['name']}_x{s}", {}).get(f'batch{p.batch_size}', {}).get('slices_per_s')
    rows, total, missing = [], 0., []
    ratios = (0.7, 0.2, 0.1)
    for run in paper_runs():
        vols = IXI_SUBJECTS[run['dataset']]
        per = per_volume[run['dataset'].split()[-1]]
        n_train, n_val = round(vols * ratios[0]) * per, round(vols * ratios[1]) * per
        steps = p.epochs * (n_train // p.batch_size)
        rate = rates.get(rate_key(run), {}).get('steps_per_s')
        vr = val_rate(run)
        if rate is None: missing.append(rate_key(run)); continue
        train_s = steps / rate
        val_s = p.epochs * n_val / vr if vr else 0.
        rows.append(dict(run, steps=steps, steps_per_s=rate, train_h=train_s / 3600, val_h=val_s / 3600))
        total += train_s + val_s
    return dict(gpu_hours=total / 3600, runs=len(rows), missing=sorted(set(missing)), rows=rows, slices_per_volume=per_volume,
                assumptions=dict(subjects=IXI_SUBJECTS, split=ratios, epochs=p.epochs, batch=p.batch_size, hr_size=p.hr_size,
                    note='every IXI subject of the three modalities, 7:2:1 by subject; slices per volume as the sample '
                         'subject IXI002 (PD as T2); one step per batch of 8 (drop_last); validation every epoch on the '
                         'whole val split at the validation scale (arbitrary-scale models: x4), Table II high/low '
                         'validated at the full model\'s rate; test scoring, data loading stalls and checkpoint writes '
                         'not counted; arbitrary-scale models timed at the scale of mean LR area of their training range'))

# ----------------------------------------------------------------------------------------------------- orchestration
def child_env(cfg) -> dict:
    "Environment of every child process: this repository first on the path (then the caller's, e.g. the private site)."
    env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHONWARNINGS='ignore')
    paths = [str(ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
    env['PYTHONPATH'] = os.pathsep.join(dict.fromkeys(paths))
    return env

def run_child(cmd:list, timeout:float|None, env:dict) -> tuple:
    "(returncode or 'timeout', stdout, stderr) of `cmd` in its own process group, all of which is killed at the time limit."
    import signal
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)           # torchrun's workers and DataLoader workers too
        out, err = proc.communicate()
        return 'timeout', out, err

def run_section(name:str, cfg:dict) -> dict:
    "Run one section in this process; every failure becomes an `error` entry (with what was measured before it)."
    import resource
    res, t, c = {}, time.perf_counter(), time.process_time()
    kids = lambda: (lambda r: r.ru_utime + r.ru_stime)(resource.getrusage(resource.RUSAGE_CHILDREN))
    k = kids()
    out = cfg.get('section_out')
    def flush():
        if out: Path(out).write_text(json.dumps(res, default=str))
    try: SECTION_FUNCS[name](cfg, res, flush)
    except BaseException as e:
        res['error'] = error_text(e); res['traceback'] = traceback.format_exc()[-3000:]
        if isinstance(e, KeyboardInterrupt): raise
    res['section_s'] = round(time.perf_counter() - t, 2)
    res['section_cpu_s'] = round(time.process_time() - c + kids() - k, 2)     # this process and the processes it waited for
    flush()
    return res

def run_isolated(name:str, cfg:dict, timeout:float) -> dict:
    "Run one section in a fresh interpreter with a time limit; what it flushed before a crash or the limit is kept."
    wd = Path(cfg['workdir'])
    cfg_file, out = wd/f'{name}-cfg.json', wd/f'{name}.json'
    out.unlink(missing_ok=True)
    cfg_file.write_text(json.dumps(dict(cfg, section_out=str(out), child_timeout=timeout)))
    cmd = [sys.executable, str(Path(__file__).resolve()), 'section', name, '--cfg', str(cfg_file)]
    t = time.perf_counter()
    rc, _, err = run_child(cmd, timeout, child_env(cfg))
    res = json.loads(out.read_text()) if out.exists() else {}
    if rc == 'timeout': res['error'] = f'stopped at its time limit of {timeout:.0f} s (what it measured before is kept)'
    elif rc and 'error' not in res: res['error'] = f'the section process exited with {rc}: {err.strip()[-1500:]}'
    res.setdefault('section_s', round(time.perf_counter() - t, 2))
    return res

def run_all(out, dry:bool=False, budget:float|None=None, sections=SECTIONS, isolate:bool|None=None,
            overwrite:bool=False, progress=print) -> dict:
    "Every section, one JSON (rewritten after each section), then the cost estimate of the paper preset."
    from mrisr.core import atomic_write, check_output
    cfg = config(dry)
    out = check_output(out, overwrite)
    budget = budget if budget is not None else cfg['budget']
    isolate = (not dry) if isolate is None else isolate
    cfg['workdir'] = tempfile.mkdtemp(prefix='mrisr-gpu-check-')
    results = dict(meta=dict(dry=dry, started=time.strftime('%Y-%m-%d %H:%M:%S %Z'), budget_s=budget, isolate=isolate,
                             sections=list(sections), config={k: v for k, v in cfg.items() if k != 'workdir'}))
    save = lambda: atomic_write(out, lambda f: f.write(json.dumps(results, indent=1, default=str).encode()))
    t0 = time.perf_counter()
    try:
        for name in sections:
            left = None if budget is None else budget - (time.perf_counter() - t0)
            limit, need = LIMITS[name]
            if left is not None and left < need:
                results[name] = dict(error=f'not run: {left:.0f} s of the {budget:.0f} s budget left, it needs {need} s')
                progress(f'[gpu-check] {name}: skipped (budget)'); continue
            if name == 'cli': cfg['checkpoint'] = results.get('e2e', {}).get('checkpoint')
            progress(f'[gpu-check] {name} ...')
            res = run_isolated(name, cfg, min(limit, left) if left is not None else limit) if isolate else run_section(name, cfg)
            results[name] = res
            progress(f"[gpu-check] {name}: {'ERROR ' + res['error'] if 'error' in res else 'ok'} ({res['section_s']:.1f} s, "
                     f"CPU {res.get('section_cpu_s', float('nan')):.1f} s)")
            save()
        results['fractions'] = fractions(results)
        try: results['estimate'] = estimate(results)
        except Exception as e: results['estimate'] = dict(error=error_text(e), traceback=traceback.format_exc()[-3000:])
        results['meta']['wall_s'] = round(time.perf_counter() - t0, 1)
        save()
    finally: shutil.rmtree(cfg['workdir'], ignore_errors=True)
    progress(summary(results))
    return results

def fractions(results:dict) -> dict:
    "Achieved TFLOP/s of each inference and training case as a fraction of the matmul rate measured in the same run."
    peak = results.get('env', {}).get('matmul', {}).get('tflops')
    out = {}
    if not peak: return out
    for sec in ('inference', 'train', 'compile'):
        for k, case in results.get(sec, {}).items():
            if not isinstance(case, dict): continue
            if 'tflops' in case: out[f'{sec}/{k}'] = case['tflops'] / peak
            for b, r in case.items():
                if isinstance(r, dict) and r.get('tflops') is not None: out[f'{sec}/{k}/{b}'] = r['tflops'] / peak
    return out

def _f(x, fmt='.2f'):
    return '–' if x is None else format(x, fmt)

def report(results:dict) -> str:
    "Markdown tables of a check's JSON: correctness, inference, training, upscaling, end to end, the cost estimate."
    out, peak = [], results.get('env', {}).get('matmul', {}).get('tflops')
    env = results.get('env', {})
    gpu = env.get('gpu') or {}
    out.append(f"**Device**: {gpu.get('name') or env.get('machine', {}).get('cpu', '?')}; torch {env.get('machine', {}).get('torch', '?')}"
               + (f"; measured {env['matmul']['dtype']} matmul ({env['matmul']['n']}³): **{peak:.1f} TFLOP/s**" if peak else ''))
    c = results.get('correctness', {})
    if 'bf16_vs_fp32' in c:
        lines = [f"- {k.replace('_', ' ')}: max |Δ| {v['max_abs']:.2e}, relative {v['rel']:.2e}" for k, v in c.items() if k.startswith('cpu_vs_device')]
        l, b, g = c.get('lte_fast_vs_general', {}), c['bf16_vs_fp32'], c.get('bf16_grads', {})
        lines += [f"- fast ×2 LTE vs general LTE (fp32): max |Δ| {l.get('max_abs', float('nan')):.2e}; under bf16 autocast: relative {l.get('bf16_rel', float('nan')):.2e}",
                  f"- TDSR bf16 autocast vs fp32: relative {b['rel']:.2e} (max |Δ| {b['max_abs']:.2e})",
                  f"- gradients under bf16: {g.get('n_params')} parameter tensors, missing {len(g.get('missing', []))}, non-finite {len(g.get('nonfinite', []))}, all-zero {len(g.get('zero', []))}"]
        out += ['', '**Correctness** (paper TDSR ×4 unless stated)', *lines]
    inf = {k: v for k, v in results.get('inference', {}).items() if isinstance(v, dict) and 'name' in v}
    if inf:
        lr = results['meta']['config']['lr_size']
        out += ['', f'**Inference** (LR {lr}×{lr}; bf16 autocast on CUDA; slices/s, achieved TFLOP/s and % of the measured matmul rate, peak GiB)', '',
                '| model | scale | params | GFLOP/slice | batch | slices/s | TFLOP/s | % matmul | peak GiB |', '|---|---|---|---|---|---|---|---|---|']
        for v in inf.values():
            for b, r in v.items():
                if not (b.startswith('batch') and isinstance(r, dict)): continue
                if 'error' in r: out.append(f"| {v['name']} | ×{v['scale']} | {v['params'] / 1e6:.2f} M | {v['gflop_per_slice']:.1f} | {b[5:]} | {r['error']} | | | |"); continue
                out.append(f"| {v['name']} | ×{v['scale']} | {v['params'] / 1e6:.2f} M | {v['gflop_per_slice']:.1f} | {b[5:]} | {r['slices_per_s']:.1f} | "
                           f"{r['tflops']:.2f} | {_f(100 * r['tflops'] / peak if peak else None, '.1f')} | {_f(r['peak_gib'])} |")
    rows = []
    for sec in ('train', 'compile', 'train_rates'):
        for k, r in results.get(sec, {}).items():
            if not isinstance(r, dict) or 'name' not in r: continue
            if 'error' in r: rows.append(f"| {sec} | {k} | {r['error']} | | | | | | |"); continue
            rows.append(f"| {sec} | {k} | {r['batch']} | {r['steps_per_s']:.2f} | {r['slices_per_s']:.1f} | {_f(r.get('tflops'))} | "
                        f"{_f(100 * r['tflops'] / peak if peak and r.get('tflops') else None, '.1f')} | {_f(r['peak_gib'])} | {_f(r.get('compile_s'), '.0f')} |")
    if rows:
        hr = results['meta']['config']['hr_size']
        out += ['', f"**Training step** (the trainer's step: bf16 autocast + channels_last on CUDA, Adam, Eq. 11 loss for TDSR; HR {hr}×{hr})", '',
                '| section | case | batch | steps/s | slices/s | TFLOP/s | % matmul | peak GiB | compile s |', '|---|---|---|---|---|---|---|---|---|', *rows]
    up = results.get('upscale', {})
    rows = []
    for k, r in up.items():
        if not isinstance(r, dict) or k.endswith('model_only') or 'slices' not in r: continue
        mo = up.get(k.rsplit('_', 1)[0] + '_model_only', {})
        rows.append(f"| {k} | {'×'.join(map(str, r['in_shape']))} → {'×'.join(map(str, r['out_shape']))} | {r['batch_size']} | "
                    f"{r['tile']} | {r['seconds']:.2f} | {_f(mo.get('seconds'))} | {_f(r['seconds'] / mo['seconds'] if mo.get('seconds') else None)} | {_f(r['peak_gib'])} |")
    if rows:
        out += ['', '**`upscale_volume`** (paper TDSR, random weights, after a warm-up; model only = the same slices through `sr_forward`, untiled)', '',
                '| case | voxels | batch | tile | seconds | model only s | ratio | peak GiB |', '|---|---|---|---|---|---|---|---|', *rows]
    e, t, cl = results.get('e2e', {}), results.get('torchrun', {}), results.get('cli', {})
    out += ['', '**End to end**']
    if 'steps' in e:
        out.append(f"- `mrisr.train.train`, TDSR ×{results['meta']['config']['e2e']['scale']} on the IXI T2 sample ({e['slices']}): {e['steps']} steps in "
                   f"{e['wall_s']:.1f} s ({_f(e.get('steps_per_s'))} steps/s in the log), validation PSNR {e['log']['val_psnr']}, files {e['files']}")
    if 'backend' in t:
        out.append(f"- torchrun --nproc_per_node=1: backend {t['backend']}{' ' + t['nccl'] if t.get('nccl') else ''}, all_reduce "
                   f"{'ok' if t.get('all_reduce_ok') else 'WRONG'}, DDP vs plain gradients: max relative difference {t.get('ddp_vs_plain_grad_rel', float('nan')):.1e}, "
                   f"trainer under it: {t.get('train', {}).get('steps')} steps, {t['wall_s']:.1f} s in all")
    if 'returncode' in cl:
        out.append(f"- `{cl['command']}`: exit {cl['returncode']}, {cl['wall_s']:.1f} s wall (interpreter start included); "
                   f"{'×'.join(map(str, cl['in_shape']))} → {'×'.join(map(str, cl.get('out_shape', [])))}")
    for k, v in results.items():
        if isinstance(v, dict) and 'error' in v: out.append(f"- **{k} failed**: {v['error']}")
    est = results.get('estimate', {})
    if 'gpu_hours' in est:
        by = {}
        for r in est['rows']:
            key = f"Table {r['table']}: {r['name']}" + (f" ({r['branches']})" if r.get('branches') else '')
            by[key] = by.get(key, 0) + r['train_h'] + r['val_h']
        out += ['', f"**Cost of the paper preset**: about **{est['gpu_hours']:.0f} GPU-hours** for {est['runs']} training runs "
                    f"(slices per volume {est['slices_per_volume']}; {est['assumptions']['note']})", '',
                '| runs | GPU-hours |', '|---|---|', *[f'| {k} | {h:.1f} |' for k, h in by.items()]]
    return '\n'.join(out)

def summary(results:dict) -> str:
    "A few lines for the terminal: what failed, the headline numbers, the GPU-hours of the paper preset."
    lines = ['[gpu-check] summary' + (' (dry run: tiny models on the CPU)' if results['meta']['dry'] else '')]
    errs = [f'  {k}: {v["error"]}' for k, v in results.items() if isinstance(v, dict) and 'error' in v]
    lines += ['  errors:'] + errs if errs else ['  no section failed']
    mm = results.get('env', {}).get('matmul', {})
    if mm.get('tflops'): lines.append(f"  matmul {mm['dtype']} {mm['n']}^3: {mm['tflops']:.1f} TFLOP/s")
    for k, r in results.get('train', {}).items():
        if isinstance(r, dict) and 'steps_per_s' in r:
            lines.append(f"  train {k}: {r['steps_per_s']:.2f} steps/s, {r.get('tflops', 0):.1f} TFLOP/s, peak {r['peak_gib']} GiB")
    for k, r in results.get('upscale', {}).items():
        if isinstance(r, dict) and 'seconds' in r and 'slices' in r: lines.append(f"  upscale {k}: {r['seconds']:.2f} s")
    est = results.get('estimate', {})
    if 'gpu_hours' in est and not est['runs']: lines.append('  paper preset: no step rates measured, no estimate')
    elif 'gpu_hours' in est:
        lines.append(f"  paper preset (Table I + II, full IXI, {est['assumptions']['epochs']} epochs, {est['runs']} training runs): "
                     f"about {est['gpu_hours']:.1f} GPU-hours on this device" + (f" (rates missing: {est['missing']})" if est['missing'] else ''))
    return '\n'.join(lines)

# --------------------------------------------------------------------------------------------------- wheels, install
def requirements() -> list:
    "The project's runtime requirements (names) from settings.ini."
    import configparser, re
    c = configparser.ConfigParser(); c.read(ROOT/'settings.ini')
    return [re.split(r'[<>=!~ ;\[]', r, 1)[0] for r in c['DEFAULT']['requirements'].split()]

NOT_CARRIED = {'torch', 'torchvision', 'torchaudio', 'triton'}    # the GPU machine's own build: never shadowed

def _norm(name:str) -> str:
    import re
    return re.sub(r'[-_.]+', '-', name).lower()

def _wheel_meta(whl:Path) -> tuple:
    "(name, version, [requirement strings]) from a wheel's METADATA."
    import zipfile
    with zipfile.ZipFile(whl) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))).decode()
    head = {}
    reqs = []
    for line in meta.split('\n\n', 1)[0].splitlines():
        k, _, v = line.partition(': ')
        if k == 'Requires-Dist': reqs.append(v)
        else: head.setdefault(k, v)
    return head.get('Name'), head.get('Version'), reqs

def cmd_wheels(dest, python_version:str, platforms:list, constraints=None, data:bool=True):
    "Download the requirements (and theirs) as wheels for the target Python; copy the sample volumes the check reads."
    from packaging.requirements import Requirement
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    env = dict(implementation_name='cpython', platform_python_implementation='CPython', python_version=python_version,
               python_full_version=python_version + '.0', sys_platform='linux', platform_system='Linux',
               platform_machine='x86_64', os_name='posix', extra='')
    pure = list(platforms) == ['any']                 # pure-Python wheels only: a compiled package fails at once, cheaply
    direct = {_norm(n) for n in requirements()}
    todo, done, binary, kept = [n for n in requirements() if _norm(n) not in NOT_CARRIED], set(), [], []
    base = [sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check',
            '-d', str(dest), '--python-version', python_version, '--implementation', 'py' if pure else 'cp']
    base += (['--abi', 'none'] if pure else []) + [a for p in platforms for a in ('--platform', p)]
    if constraints: base += ['-c', str(constraints)]
    while todo:
        name = todo.pop(0)
        if _norm(name) in done or _norm(name) in NOT_CARRIED: continue
        done.add(_norm(name))
        before = set(dest.glob('*.whl'))
        r = subprocess.run(base + [name], capture_output=True, text=True)
        if r.returncode:
            if pure: binary.append(_norm(name)); continue
            raise SystemExit(f'pip download {name} failed:\n{r.stderr[-2000:]}')
        new = sorted(set(dest.glob('*.whl')) - before) or \
              sorted(w for w in dest.glob('*.whl') if _norm(w.name.split('-')[0]) == _norm(name))
        for whl in new:
            dist, version, reqs = _wheel_meta(whl)
            kept.append(dict(name=_norm(dist), version=version, file=whl.name))
            for q in map(Requirement, reqs):
                if q.marker is None or q.marker.evaluate(env): todo.append(q.name)
    manifest = dict(python_version=python_version, platforms=list(platforms), wheels=kept, not_carried=sorted(NOT_CARRIED),
                    binary_required=sorted(set(binary) & direct),         # mrisr imports these: the machine must have them
                    binary_optional=sorted(set(binary) - direct), data=[])  # wanted by a dependency, not by mrisr's code paths
    if data:
        from mrisr.core import sample_data_dir
        for rel in (*VOLUMES.values(), IXI_T1):
            dst = dest/'shared'/'data'/rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(sample_data_dir(rel), dst)
            manifest['data'].append(rel)
    (dest/'manifest.json').write_text(json.dumps(manifest, indent=1))
    size = sum(f.stat().st_size for f in dest.rglob('*') if f.is_file())
    print(f"{dest}: {len(kept)} wheels ({', '.join(w['name'] + ' ' + w['version'] for w in kept)}), "
          f"{len(manifest['data'])} sample volumes, {size / 2**20:.1f} MiB in all; compiled requirements the GPU "
          f"machine's Python must have: {', '.join(manifest['binary_required']) or 'none'}")

def cmd_install(wheels, target):
    "pip-install into `target` the carried wheels whose distributions this Python lacks (never torch, never an upgrade)."
    import importlib.metadata as md
    wheels, target = Path(wheels), Path(target)
    man = json.loads((wheels/'manifest.json').read_text()) if (wheels/'manifest.json').exists() else dict(wheels=[], binary_required=[])
    def have(n):
        try: return md.version(n)
        except md.PackageNotFoundError: return None
    missing = [w for w in man['wheels'] if have(w['name']) is None]
    lacking = [n for n in man.get('binary_required', []) if have(n) is None]   # (binary_optional: not needed by mrisr)
    if missing:
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-index', '--no-deps', '--no-compile',
                        '--disable-pip-version-check', '--target', str(target)] + [str(wheels/w['file']) for w in missing], check=True)
    print(f"[gpu-check] installed into {target}: {', '.join(w['name'] for w in missing) or 'nothing (all present)'}; "
          f"already present: {', '.join(w['name'] + ' ' + have(w['name']) for w in man['wheels'] if w not in missing) or 'none'}"
          + (f"; MISSING compiled requirements (the check will fail where they are imported): {', '.join(lacking)}" if lacking else ''))

# ------------------------------------------------------------------------------------------------------------- main
def main(argv=None):
    if str(ROOT) not in sys.path: sys.path.insert(1, str(ROOT))     # this checkout's mrisr, installed or not
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    w = sub.add_parser('wheels', help='download wheels + sample volumes for a GPU machine without a package index')
    w.add_argument('--dest', default='.whl')
    w.add_argument('--python-version', default='3.12')
    w.add_argument('--platform', action='append', default=None,
                   help="pip platform tag, repeatable (default 'any': pure-Python wheels only; e.g. manylinux_2_28_x86_64 also fetches compiled ones)")
    w.add_argument('--constraints', default=str(ROOT/'constraints.txt'))
    w.add_argument('--no-data', action='store_true')
    i = sub.add_parser('install', help='install the carried wheels this Python lacks into a private folder')
    i.add_argument('--wheels', default='.whl')
    i.add_argument('--target', default='runs/gpu-site')
    r = sub.add_parser('run', help='run the check, write one JSON')
    r.add_argument('--out', default='runs/gpu_check.json')
    r.add_argument('--dry-run', action='store_true', help='tiny models and sizes on the CPU (the test runner runs this)')
    r.add_argument('--budget', type=float, default=None, help=f'seconds for all sections (default {BUDGET} on the GPU, none dry)')
    r.add_argument('--sections', default=','.join(SECTIONS))
    r.add_argument('--in-process', action='store_true', help='run the sections in this process (default: dry runs only)')
    r.add_argument('--isolate', action='store_true', help='one process per section, with its time limit (default: GPU runs)')
    r.add_argument('--overwrite', action='store_true')
    s = sub.add_parser('section'); s.add_argument('name'); s.add_argument('--cfg', required=True)
    d = sub.add_parser('ddp-child'); d.add_argument('--cfg', required=True)
    a = p.parse_args(argv)
    if a.cmd == 'wheels':
        cmd_wheels(a.dest, a.python_version, a.platform or ['any'],
                   a.constraints if a.constraints and Path(a.constraints).exists() else None, data=not a.no_data)
    elif a.cmd == 'install': cmd_install(a.wheels, a.target)
    elif a.cmd == 'run':
        res = run_all(a.out, dry=a.dry_run, budget=a.budget, sections=[x for x in a.sections.split(',') if x],
                      isolate=False if a.in_process else True if a.isolate else None, overwrite=a.overwrite)
        print(f'[gpu-check] wrote {a.out}')
        return 1 if any(isinstance(v, dict) and 'error' in v for v in res.values()) else 0
    elif a.cmd == 'section': run_section(a.name, json.loads(Path(a.cfg).read_text()))
    elif a.cmd == 'ddp-child': ddp_child(json.loads(Path(a.cfg).read_text()))
    return 0

if __name__ == '__main__': sys.exit(main())
