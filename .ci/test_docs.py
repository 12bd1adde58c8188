#!/usr/bin/env python3
"""Check the built documentation (`_docs/`, from `make docs`) in a real headless browser (`make docs-test`).

Serves `_docs/` on 127.0.0.1 (Python's http.server, a free port), drives Debian's Chromium through Debian's
ChromeDriver with selenium (no browser or driver is downloaded: both paths are given), and checks
- the index page: its title, the README as its content, and a navigation that lists every notebook of the build
  (`_docs/_manifest.json`, written by the build) in notebook order; and that the build saw the notebooks that
  `nbs/` holds now (otherwise: run `make docs` again);
- one notebook page (`--page`, default: the first library notebook whose page shows a figure): its title, the
  navigation, a figure in a cell output that the browser actually loaded (`<img>` complete, naturalWidth > 0,
  served as a PNG), the equations typeset by MathJax from the site itself, and no resource that failed to load.
Screenshots go to `_docs/_screenshots/` (look at them). Closes with an `N passed, N failed` line; exit 1 on failure.

Needs: `apt-get install -y chromium chromium-driver` (the Makefile target does it when they are missing)."""
import argparse, functools, html, json, os, re, shutil, sys, threading, time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT/'_docs'
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_docs import discover, NBS  # the same discovery (and order) as the build

class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

def serve(root: Path):
    srv = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}'

def find_binary(*names):
    for n in names:
        if p := shutil.which(n): return p
    return None

def browser(width=1400, height=1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chrome, driver = find_binary('chromium', 'chromium-browser'), find_binary('chromedriver')
    if not (chrome and driver):
        sys.exit('test_docs: Chromium or ChromeDriver not found; install them with: '
                 'apt-get update && apt-get install -y chromium chromium-driver')
    os.environ.setdefault('SE_OFFLINE', 'true')  # never let Selenium Manager try to download anything
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
              f'--window-size={width},{height}', '--hide-scrollbars', '--force-device-scale-factor=1'):
        opts.add_argument(a)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)

def wait_for(drv, js, timeout=20.):
    "Poll a JS expression until it is truthy (or the timeout); returns its last value."
    t0 = time.time()
    while True:
        v = drv.execute_script(js)
        if v or time.time() - t0 > timeout: return v
        time.sleep(0.2)

def page_of(rel: Path) -> str: return str(rel.with_suffix('.html'))

def default_page(rels) -> Path:
    "The first library notebook (nbs/*.ipynb) whose built page has an image in a cell output."
    for rel in rels:
        f = DOCS/page_of(rel)
        if len(rel.parts) == 1 and f.exists() and re.search(r'class="cell_output[^"]*"[\s\S]*?<img', f.read_text()):
            return rel
    sys.exit('test_docs: no notebook page with a figure found in _docs/ (did `make docs` run?)')

NAV_JS = """return Array.from(document.querySelectorAll('nav.bd-docs-nav a.reference.internal, #bd-docs-nav a'))
                 .map(a => a.getAttribute('href'))"""

def nav_pages(drv, base_url):
    "The notebook pages the navigation links to, in order, as paths relative to the site root."
    from urllib.parse import urljoin, urlparse
    out = []
    for h in drv.execute_script(NAV_JS):
        p = urlparse(urljoin(drv.current_url, h)).path.lstrip('/')
        if p.endswith('.html') and p not in out: out.append(p)
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--page', help='notebook to check, e.g. 02_kspace.ipynb (default: first with a figure)')
    a = ap.parse_args()
    if not (DOCS/'index.html').exists(): sys.exit('test_docs: _docs/index.html missing: run `make docs` first')
    manifest = json.loads((DOCS/'_manifest.json').read_text())
    rels = [Path(p['notebook']).relative_to('nbs') for p in manifest['pages']]
    rel = Path(a.page) if a.page else default_page(rels)
    shots = DOCS/'_screenshots'
    shots.mkdir(exist_ok=True)
    results = []
    def check(name, ok, detail=''):
        results.append(bool(ok))
        print(f'{"PASSED" if ok else "FAILED"} {name}' + (f'  ({detail})' if detail else ''), flush=True)

    srv, base = serve(DOCS)
    drv = browser()
    try:
        # ---- the index
        drv.get(f'{base}/index.html')
        wait_for(drv, "return document.readyState === 'complete'")
        title = drv.title
        check('index: page title', title.startswith('mrisr'), repr(title))
        h1 = drv.execute_script("const h = document.querySelector('article h1, main h1'); return h ? h.textContent : ''")
        check('index: README is the index (its heading)', h1.strip().rstrip('#¶ ').strip() == 'mrisr', repr(h1))
        nav = nav_pages(drv, base)
        want = [page_of(r) for r in rels]
        missing = [p for p in want if p not in nav]
        check('index: navigation lists every notebook of the build', not missing,
              f'{len(want) - len(missing)}/{len(want)} listed' + (f', missing {missing}' if missing else ''))
        now = [f.relative_to(NBS) for f in discover()]
        check('site is up to date with nbs/ (same notebooks)', now == rels,
              f'built {manifest["built"]}' + ('' if now == rels else
              f'; new {[str(r) for r in now if r not in rels]}, gone {[str(r) for r in rels if r not in now]}: run make docs'))
        in_order = [p for p in nav if p in want]
        check('index: navigation in notebook order', in_order == [p for p in want if p in in_order],
              f'{in_order[:4]} ...')
        drv.save_screenshot(str(shots/'index.png'))

        # ---- one notebook page
        drv.get(f'{base}/{page_of(rel)}')
        wait_for(drv, "return document.readyState === 'complete'")
        nb_title = json.loads((NBS/rel).read_text())['cells'][0]['source']
        nb_title = ''.join(nb_title).splitlines()[0].lstrip('# ').strip()
        check(f'{rel}: page title', drv.title.startswith(nb_title), f'{drv.title!r}, notebook title {nb_title!r}')
        check(f'{rel}: navigation lists every notebook', set(want) <= set(nav_pages(drv, base)))
        imgs = wait_for(drv, """return Array.from(document.querySelectorAll('.cell_output img'))
            .filter(i => i.complete && i.naturalWidth > 0)
            .map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight])""")
        n_all = drv.execute_script("return document.querySelectorAll('.cell_output img').length")
        check(f'{rel}: a figure in a cell output loaded in the browser', imgs and len(imgs) == n_all,
              f'{len(imgs or [])}/{n_all} loaded' + (f', first {imgs[0][1]}x{imgs[0][2]} px' if imgs else ''))
        if imgs:
            from urllib.parse import urljoin
            data = urlopen(urljoin(drv.current_url, imgs[0][0]), timeout=10).read()
            check(f'{rel}: the figure is a PNG served by the site', data[:8] == b'\x89PNG\r\n\x1a\n',
                  f'{imgs[0][0]}, {len(data)} bytes')
        has_math = drv.execute_script("return document.querySelectorAll('.math').length")
        if has_math:
            typeset = wait_for(drv, "return document.querySelectorAll('mjx-container').length")
            check(f'{rel}: equations typeset by the bundled MathJax', typeset, f'{typeset} of {has_math} typeset')
        logs = [l for l in drv.get_log('browser') if l['level'] == 'SEVERE' and '/favicon.ico' not in l['message']]
        check(f'{rel}: no resource failed to load', not logs, '; '.join(l['message'][:120] for l in logs[:3]))
        drv.save_screenshot(str(shots/'module.png'))
        drv.execute_script("""const i = document.querySelector('.cell_output img');
                              if (i) { i.scrollIntoView({block: 'center'}); }""")
        time.sleep(0.5)
        drv.save_screenshot(str(shots/'module_figure.png'))
    finally:
        drv.quit()
        srv.shutdown()
    print(f'screenshots: {", ".join(str(p.relative_to(ROOT)) for p in sorted(shots.glob("*.png")))}')
    n_ok = sum(results)
    print(f'{n_ok} passed, {len(results) - n_ok} failed')
    sys.exit(0 if n_ok == len(results) else 1)

if __name__ == '__main__': main()
