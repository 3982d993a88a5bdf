"""The offline docs site, checked as a reader sees it: build it with scripts/docs.sh, serve _site/ on localhost,
open every page in headless Chromium (Debian's, installed by scripts/install_chromium.sh) and read the rendered
DOM through the DevTools protocol: math rendered by KaTeX, images loaded, API entries present, navigation in
notebook order, search answering, no asset from outside the site. Internal links are checked on the files.
Screenshots land in tests/artifacts/ (gitignored).
"""
import base64, functools, http.server, importlib, json, os, re, shutil, subprocess, sys, tempfile, threading, time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT/'_site'
ARTIFACTS = ROOT/'tests'/'artifacts'
VENV = Path(sys.prefix) if sys.prefix != sys.base_prefix else ROOT/'.venv'
CHROME_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run']

# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope='module')
def site():
    t = time.time()
    r = subprocess.run(['bash', 'scripts/docs.sh'], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, 'VENV': str(VENV), 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, f'scripts/docs.sh failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}'
    print(f'docs built in {time.time() - t:.1f} s')
    assert (SITE/'index.html').exists()
    return SITE

@pytest.fixture(scope='module')
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown(); httpd.server_close()

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

@pytest.fixture(scope='module')
def browser():
    r = subprocess.run(['bash', 'scripts/install_chromium.sh'], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if r.returncode: pytest.skip(f'headless Chromium unavailable: {r.stderr.strip()[-500:]}')
    exe = r.stdout.strip().splitlines()[-1]
    profile = Path(tempfile.mkdtemp(prefix='infonb-chromium-'))
    proc = subprocess.Popen([exe, *CHROME_FLAGS, f'--user-data-dir={profile}', '--remote-debugging-port=0',
                             '--window-size=1280,1000', 'about:blank'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile/'DevToolsActivePort'
        for _ in range(300):
            if port_file.exists() and len(port_file.read_text().split()) >= 2: break
            if proc.poll() is not None: pytest.fail(f'chromium exited with {proc.returncode}')
            time.sleep(0.1)
        else: pytest.fail('chromium did not open its DevTools port in 30 s')
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=10).read())
        page = next(t for t in targets if t['type'] == 'page')
        tab = DevTools(page['webSocketDebuggerUrl'])
        tab.call('Page.enable'); tab.call('Runtime.enable')
        tab.call('Emulation.setDeviceMetricsOverride', width=1280, height=1000, deviceScaleFactor=1, mobile=False)
        yield tab
        tab.close()
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
        shutil.rmtree(profile, ignore_errors=True)

class DevTools:
    "The few DevTools-protocol calls the checks need, over one websocket to one tab."
    def __init__(self, url):
        import websocket  # websocket-client (a dev requirement)
        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.next_id, self.events = 0, []
    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') == self.next_id:
                if 'error' in msg: raise RuntimeError(f'{method}: {msg["error"]}')
                return msg['result']
            self.events.append(msg)
    def goto(self, url, timeout=30):
        self.events.clear()
        self.call('Page.navigate', url=url)
        t = time.time()
        while not any(e.get('method') == 'Page.loadEventFired' for e in self.events):
            if time.time() - t > timeout: raise TimeoutError(f'{url} did not load in {timeout} s')
            self.events.append(json.loads(self.ws.recv()))
    def eval(self, js):
        r = self.call('Runtime.evaluate', expression=js, awaitPromise=True, returnByValue=True)
        if 'exceptionDetails' in r: raise RuntimeError(f'JS error: {r["exceptionDetails"]}')
        return r['result'].get('value')
    def screenshot(self, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(self.call('Page.captureScreenshot', format='png')['data']))
    def close(self): self.ws.close()

# What a reader's browser shows, after the page's scripts ran: collected in one evaluation per page.
INSPECT_JS = r"""(async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; setTimeout(r, 5000); })));
  await document.fonts.ready;
  const raw = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const n = walk.currentNode, p = n.parentElement;
    if (!p || p.closest('script, style, pre, code, textarea, annotation, .highlight')) continue;
    const t = n.textContent;
    if (/\$\$|\\\(|\\\)|\\\[|\\\]/.test(t) || /\$[^$\n]*\\[A-Za-z]+[^$\n]*\$/.test(t)) raw.push(t.trim().slice(0, 120));
  }
  const local = u => u.startsWith(location.origin);
  return {
    title: document.title,
    images: imgs.map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth})),
    raw_math: raw,
    math_elements: document.querySelectorAll('span.math, div.math').length,
    katex: document.querySelectorAll('.math .katex').length,
    katex_errors: [...document.querySelectorAll('.katex-error')].map(e => e.textContent.slice(0, 120)),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    headings: [...document.querySelectorAll('h1, h2, h3, h4, p.rubric')].map(h => h.textContent.replace(/[#¶]/g, '').trim()),
    nav: [...document.querySelectorAll('.sidebar-tree a.reference')].map(a => a.getAttribute('href')),
    captions: [...document.querySelectorAll('.sidebar-tree p.caption')].map(c => c.textContent.trim()),
    foreign: [...document.querySelectorAll('script[src], link[rel=stylesheet], img[src], link[rel=preload]')]
               .map(e => e.src || e.href).filter(u => u && !local(u) && !u.startsWith('data:')),
  };
})()"""

@pytest.fixture(scope='module')
def pages(site, server, browser):
    "Every html page of the site as rendered in Chromium: {name: inspection}."
    found = {}
    for f in sorted(site.glob('*.html')):
        browser.goto(server + f.name)
        found[f.name] = browser.eval(INSPECT_JS)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.goto(server + 'index.html'); browser.eval('document.fonts.ready')
    browser.screenshot(ARTIFACTS/'docs_home.png')
    browser.goto(server + 'data.html'); browser.eval('document.fonts.ready')
    browser.screenshot(ARTIFACTS/'docs_data.png')
    return found

# ---------------------------------------------------------------------------------------------- the checks
def test_page_per_notebook_in_order(site, pages):
    from infonb.docs import notebook_order, site_pages
    from nbdev.config import get_config
    nbs = get_config().nbs_path
    expected = list(site_pages(nbs, ROOT/'_proc').values())
    assert len(expected) == len(notebook_order(nbs))
    for page in expected: assert f'{page}.html' in pages, f'no page for {page}'
    nav = [h.split('#')[0].removesuffix('.html') for h in pages['index.html']['nav']]
    assert nav == [p for p in expected if p != 'index'], f'sidebar {nav} is not in notebook order {expected}'
    assert (ROOT/'nbs'/'sidebar.yml').read_text().count('.ipynb') == len(expected)


def test_sidebar_sections_by_part(site, pages):
    "The site's sidebar has one captioned section per part, in order, each holding its notebooks' pages."
    from infonb.docs import notebook_order, sections, site_pages
    from nbdev.config import get_config
    nbs = get_config().nbs_path
    parts = {k: v for k, v in sections(nbs, notebook_order(nbs)).items() if k is not None}
    assert list(parts)[:6] == ['Estimator', 'Network and capture', 'Measures', 'Records and apps', 'Experiments',
                               'Benchmarks']
    for name, p in pages.items():
        if p['nav']: assert p['captions'] == list(parts), f'{name}: sidebar sections {p["captions"]}'
    index = (site/'index.html').read_text()
    by_nb, pos = site_pages(nbs, ROOT/'_proc'), -1
    for part, rels in parts.items():  # each caption, then its pages' links, in order
        at = index.index(f'<span class="caption-text">{part}</span>')
        assert at > pos
        for rel in rels: assert index.index(f'href="{by_nb[rel]}.html"', at) > at
        pos = at


def test_sidebar_yml_is_what_the_builder_writes():
    "nbs/sidebar.yml (Quarto's sidebar) is up to date: the home page, then a `section:` per part (no build needed)."
    import yaml
    from infonb.docs import notebook_order, sidebar_yml
    nbs = ROOT/'nbs'
    assert (nbs/'sidebar.yml').read_text() == sidebar_yml(nbs, notebook_order(nbs)), 'run make docs (or build_site)'
    contents = yaml.safe_load((nbs/'sidebar.yml').read_text())['website']['sidebar']['contents']
    assert contents[0] == 'index.ipynb'
    assert [c['section'] for c in contents[1:]][:6] == ['Estimator', 'Network and capture', 'Measures',
                                                         'Records and apps', 'Experiments', 'Benchmarks']

def test_math_rendered_by_katex(pages):
    with_math = {n: p for n, p in pages.items() if p['math_elements']}
    assert 'kernels.html' in with_math and len(with_math) >= 3, sorted(with_math)
    for name, p in pages.items():
        assert not p['raw_math'], f'{name}: math left raw (KaTeX did not run on it): {p["raw_math"][:5]}'
        assert p['katex'] == p['math_elements'], f'{name}: {p["math_elements"]} math elements, {p["katex"]} rendered'
        assert not p['katex_errors'], f'{name}: KaTeX could not parse: {p["katex_errors"][:5]}'

def test_images_load(pages):
    n = 0
    for name, p in pages.items():
        for img in p['images']:
            assert img['width'] > 0, f'{name}: image {img["src"]} did not load'
            n += 1
    assert n >= 5, f'only {n} images on the whole site: are the notebooks committed with their figures?'

def test_offline(pages):
    for name, p in pages.items():
        assert not p['foreign'], f'{name} loads assets from outside the site: {p["foreign"]}'

def _public_api():
    "{module: {name: (page, anchor)}} for every public function and class, from infonb/_modidx.py and __all__."
    from infonb._modidx import d
    api = {}
    for mod, syms in d['syms'].items():
        m = importlib.import_module(mod)
        for name in getattr(m, '__all__', []):
            obj = getattr(m, name, None)
            if not (callable(obj) and getattr(obj, '__module__', None) == mod): continue
            page, _, anchor = syms[f'{mod}.{name}'][0].partition('#')
            api.setdefault(mod, {})[name] = (page, anchor)
    return api

def test_api_entries(pages):
    api = _public_api()
    for mod in ('infonb.data', 'infonb.explore'): assert mod in api, f'{mod} has no public API in _modidx.py'
    missing = []
    for mod, names in api.items():
        for name, (page, anchor) in names.items():
            p = pages.get(page)
            if p is None: missing.append(f'{mod}.{name}: no page {page}'); continue
            if anchor not in p['ids'] or name not in p['headings']: missing.append(f'{mod}.{name} on {page}')
    assert not missing, 'API entries missing from the site:\n' + '\n'.join(missing)

def test_search(server, browser, pages):
    browser.goto(server + 'search.html?q=entropy')
    hits = browser.eval("""(async () => {
      for (let i = 0; i < 150; i++) {  // Sphinx lists the results one by one, then writes its summary
        const done = document.querySelector('#search-results .search-summary');
        if (done && /finished|found|did not match/i.test(done.textContent))
          return [...document.querySelectorAll('#search-results ul.search li a')].map(a => a.getAttribute('href'));
        await new Promise(r => setTimeout(r, 100));
      }
      return null;
    })()""")
    assert hits is not None, 'search did not finish in 15 s'
    assert any(h.startswith('renyi.html') for h in hits), f'search for "entropy" found {hits}'

class _Links(HTMLParser):
    def __init__(self):
        super().__init__(); self.refs, self.ids = [], set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('name'): self.ids.add(a['name'])
        for k in ('href', 'src'):
            if a.get(k) and not (tag == 'link' and a.get('rel') in ('canonical',)): self.refs.append(a[k])

def _parse(f):
    p = _Links(); p.feed(f.read_text(encoding='utf-8')); return p

def test_internal_links_resolve(site):
    parsed = {f: _parse(f) for f in site.rglob('*.html')}
    bad, n = [], 0
    for f, p in parsed.items():
        for ref in p.refs:
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith(('//', 'mailto:', 'javascript:', 'data:')): continue
            n += 1
            target = (f.parent/unquote(parts.path)).resolve() if parts.path else f
            if target.is_dir(): target = target/'index.html'
            if not target.exists(): bad.append(f'{f.relative_to(site)}: {ref} (no such file)'); continue
            if parts.fragment and target.suffix == '.html':
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids: bad.append(f'{f.relative_to(site)}: {ref} (no such anchor)')
    assert n > 100, n
    assert not bad, f'{len(bad)} broken internal links:\n' + '\n'.join(bad[:40])

def test_screenshots(pages):
    for name in ('docs_home.png', 'docs_data.png'):
        png = (ARTIFACTS/name).read_bytes()
        assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000, name
