# Sphinx configuration of infonb's offline documentation site (built by infonb.docs.build_site / `make docs`).
# The sources are nbdev's processed notebooks, staged under _proc/_sphinx/src; see nbs/34_docs.ipynb.
from nbdev.config import get_config

cfg = get_config()
project = cfg.get('title', cfg.lib_name)
author = cfg.get('author', '')
copyright = cfg.get('copyright', '')
release = version = cfg.get('version', '')

extensions = ['myst_nb', 'infonb.docs']
source_suffix = {'.ipynb': 'myst-nb'}          # only the staged notebooks are pages
root_doc = 'index'
exclude_patterns = ['**.ipynb_checkpoints']

# notebooks are committed with their outputs: never execute them here
nb_execution_mode = 'off'
nb_merge_streams = True
nb_render_markdown_format = 'myst'             # show_doc's markdown gets tables, math and anchors
nb_ipywidgets_js = {}                          # no widget scripts from a CDN: the site works offline
myst_enable_extensions = ['dollarmath', 'amsmath', 'attrs_block', 'colon_fence']
myst_dmath_double_inline = True
myst_all_links_external = True                 # links are rewritten to site pages by infonb.docs
myst_heading_anchors = 0
suppress_warnings = ['myst.header', 'mystnb.unknown_mime_type', 'misc.highlighting_failure']

html_math_renderer = 'katex_offline'           # KaTeX copied into _static/katex (infonb.docs)
html_theme = 'furo'
html_title = project
html_static_path = ['_static']
html_css_files = ['infonb.css']
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {'sidebar_hide_name': False, 'navigation_with_keys': True}
pygments_style = 'sphinx'
