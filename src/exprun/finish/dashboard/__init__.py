"""The static dashboard of every experiment: `wiki/outputs/exprun/index.html` and one page per experiment beside
it, plain files that open from the file system with no server and no network.

facts (what each experiment shows, from what exprun already wrote) → render and experiment_page (the HTML, every
text escaped through markup) → site (the files, written only when they change; the last status scan kept for
cheap regenerations) → serve (the optional `exprun dashboard --serve` on 127.0.0.1).
"""
