"""The HTML report of a run, a game day or a drill's history: one self-contained file each.

Why self-contained: a report is opened from a run directory copied off a Raspberry Pi, attached
to a ticket or mailed — often where no network reaches. So the page carries its styles, its one
small script and its charts (inline SVG) and loads nothing: no external script, style, font or
image. Every value that came from a run, an event or a log is HTML-escaped by Jinja2's autoescape.
"""
