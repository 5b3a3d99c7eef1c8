"""The course's own tooling, kept apart from the library a student reads (``import dgmlib`` does
not load it; ``import dgmlib.course`` loads only the course map).

- ``course_map``: every notebook and its topic (``COURSE_MAP``), the README's table;
- ``notebooks``: the notebook executor and the full run that stores outputs (``make notebooks``);
- ``labs``: the student labs generated from ``solutions/``;
- ``grader``: runs a submitted lab notebook and grades it; ``checks``: the hidden checks per lab.

One command line for all of it, ``python -m dgmlib.course {map, run-notebooks, make-labs, grade}``
(see :mod:`dgmlib.course.cli`).
"""

from .course_map import COURSE_MAP, Entry, course_map_markdown

__all__ = ["COURSE_MAP", "Entry", "course_map_markdown"]
