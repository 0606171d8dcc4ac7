#!/usr/bin/env python3
"""The include rules of docs/ARCHITECTURE.md, checked on the source tree.

The rules are the "may include" column of the folder table in
docs/ARCHITECTURE.md, read on every run: the table is the one place the layout
is written. A table this script cannot read is an error, never a silent pass.

  include_rules.py SOURCE_DIR folders    which folder may include which
  include_rules.py SOURCE_DIR plugins    a collector plug-in includes no other plug-in
  include_rules.py SOURCE_DIR self-test  each rule catches a planted violation

Prints one line per violation (file:line: what, and the rule) and exits 1 if
there is any. Only quoted project includes count; <system> headers are free.
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE_EXT = ('.h', '.cc', '.c')
# What each folder may include besides itself, read from the "may include"
# column of the folder table in docs/ARCHITECTURE.md (load_allowed). A folder
# whose cell is "—" or "anything" (tests/, config/, ...) is not checked.
ARCHITECTURE_DOC = os.path.join('docs', 'ARCHITECTURE.md')
TABLE_HEADER = ('folder', 'what lives there', 'may include')
UNCHECKED = ('—', '-', 'anything')
FOLDER = re.compile(r'`([a-z][a-z0-9_/]*)/`')
ALLOWED = {}
# collectors/ files that are the framework, not a plug-in: anyone in collectors/ may use them.
FRAMEWORK = {'collector', 'registry', 'snapshot'}


class TableError(Exception):
    """The folder table of docs/ARCHITECTURE.md is missing or cannot be read."""


def table_rows(text):
    """The cells of each row of the folder table (the one headed TABLE_HEADER)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if tuple(cells) == TABLE_HEADER:
            break
    else:
        raise TableError(f'no table headed | {" | ".join(TABLE_HEADER)} |')
    rows = []
    for line in lines[i + 2:]:
        if not line.startswith('|'):
            break
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) != len(TABLE_HEADER):
            raise TableError(f'row with {len(cells)} cells, not {len(TABLE_HEADER)}: {line}')
        rows.append(cells)
    if not rows:
        raise TableError('the folder table has no rows')
    return rows


def parse_allowed(text):
    """{folder: folders it may include} from the "may include" column.

    A cell names folders in backticks (`base/`), or says "nothing of botwatch's"
    or "every folder above"; anything else is an error, so the rule never
    silently checks less than the table says.
    """
    allowed = {}
    for name_cell, _, may in table_rows(text):
        if may in UNCHECKED:
            continue
        names = FOLDER.findall(name_cell)
        if len(names) != 1:
            raise TableError(f'a checked row must name one folder: {name_cell} ({may})')
        named = set(FOLDER.findall(may))
        if may.startswith('nothing') and not named:
            allowed[names[0]] = set()
        elif may.startswith('every folder above') and not named:
            allowed[names[0]] = set(allowed)
        elif named:
            allowed[names[0]] = named
        else:
            raise TableError(f'cannot read "may include" of {name_cell}: {may}')
    for folder, deps in allowed.items():
        unknown = deps - set(allowed)
        if unknown:
            raise TableError(f'{folder}/ may include {", ".join(sorted(unknown))}, which has no checked row')
    return allowed


def load_allowed(root):
    path = os.path.join(root, ARCHITECTURE_DOC)
    try:
        with open(path, encoding='utf-8') as f:
            return parse_allowed(f.read())
    except OSError as e:
        raise TableError(f'cannot read {path}: {e}') from e


def folder_of(path):
    """'collectors/lib/x.h' -> 'collectors/lib'; the checked folder a path is in, or None."""
    d = os.path.dirname(path)
    while d:
        if d in ALLOWED:
            return d
        d = os.path.dirname(d)
    return None


def plugin_of(path):
    """The plug-in a collectors/ file belongs to ('facebook' for collectors/facebook.cc), or None."""
    if os.path.dirname(path) != 'collectors':
        return None
    stem = os.path.basename(path).split('.')[0]
    return None if stem in FRAMEWORK else stem


def includes(root):
    """(file, line number, included path) for every quoted include under the checked folders."""
    for top in sorted({f.split('/')[0] for f in ALLOWED}):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith(SOURCE_EXT):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                with open(full, encoding='utf-8', errors='replace') as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        if '/' not in target:  # "x.h": next to the including file
                            target = os.path.join(os.path.dirname(rel), target)
                        yield rel, n, target


def check_folders(root):
    bad = []
    for rel, n, target in includes(root):
        src, dst = folder_of(rel), folder_of(target)
        if src is None or dst is None or src == dst:
            continue
        if dst not in ALLOWED[src]:
            bad.append(f'{rel}:{n}: includes {target}: {src}/ may include only '
                       f'{", ".join(sorted(ALLOWED[src] | {src})) or src}/')
        elif src == 'collectors/lib' and dst == 'collectors' and plugin_of(target):
            bad.append(f'{rel}:{n}: includes {target}: collectors/lib/ may use the collector framework, '
                       f'not a plug-in')
    return bad


def check_plugins(root):
    bad = []
    for rel, n, target in includes(root):
        mine, theirs = plugin_of(rel), plugin_of(target)
        if mine and theirs and mine != theirs:
            bad.append(f'{rel}:{n}: includes {target}: a plug-in never includes another plug-in; '
                       f'move what they share to collectors/lib/')
    return bad


def self_test():
    planted = {
        'base/a.cc': '#include "logs/event.h"\n',
        'logs/b.cc': '#include "agent/agent.h"\n',
        'collectors/lib/c.cc': '#include "collectors/http.h"\n',
        'collectors/facebook.cc': '#include "collectors/facebook.h"\n#include "collectors/collector.h"\n'
                                  '#include "collectors/http.h"\n',
        'agent/ok.cc': '#include "logs/event.h"\n#include <vector>\n',
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in planted.items():
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), 'w') as f:
                f.write(text)
        folders = [line.split(':')[0] for line in check_folders(root)]
        plugins = [line.split(':')[0] + ':' + line.split(':')[1] for line in check_plugins(root)]
    failures = []
    if folders != ['base/a.cc', 'collectors/lib/c.cc', 'logs/b.cc']:
        failures.append(f'folders rule reported {folders}')
    if plugins != ['collectors/facebook.cc:3']:
        failures.append(f'plugins rule reported {plugins}')
    return failures + self_test_table()


def self_test_table():
    """The table reader: a well-formed table read as written, a broken one refused."""
    head = '| folder | what lives there | may include |\n| --- | --- | --- |\n'
    good = head + ('| `base/` | kernel | nothing of botwatch\'s |\n| `prom/` | model | `base/` |\n'
                   '| `agent/` | daemon | every folder above |\n| `tests/` | tests | anything |\n')
    failures = []
    want = {'base': set(), 'prom': {'base'}, 'agent': {'base', 'prom'}}
    if parse_allowed(good) != want:
        failures.append(f'table reader read {parse_allowed(good)}')
    broken = {
        'no table': 'no table here\n',
        'unreadable cell': head + '| `base/` | kernel | whatever it likes |\n',
        'unknown folder': head + '| `logs/` | logs | `base/` |\n',
        'missing cell': head + '| `base/` | nothing of botwatch\'s |\n',
    }
    for what, text in broken.items():
        try:
            parse_allowed(text)
            failures.append(f'table reader accepted a table with {what}')
        except TableError:
            pass
    return failures


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ('folders', 'plugins', 'self-test'):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root, what = sys.argv[1], sys.argv[2]
    try:
        ALLOWED.update(load_allowed(root))
    except TableError as e:
        print(f'include_rules.py: {ARCHITECTURE_DOC}: {e}', file=sys.stderr)
        return 2
    bad = {'folders': check_folders, 'plugins': check_plugins}.get(what, lambda _: self_test())(root)
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
