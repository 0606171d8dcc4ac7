#!/usr/bin/env python3
"""No non-test function longer than MAX_LINES, checked on the source tree.

  function_length.py SOURCE_DIR check      every function over the limit, or nothing
  function_length.py SOURCE_DIR list [N]   the N longest functions (default 25), any length
  function_length.py SOURCE_DIR self-test  planted functions are measured as expected

A function's length runs from the first line of its signature to its closing
brace, inclusive. `check` prints one line per function over the limit
(file:line: name: N lines) and exits 1 if there is any.

Functions are found in the text with comments, string and character literals
and preprocessor lines blanked out: a `{` at namespace or class level whose
declaration has a parameter list opens a function body (a constructor's
initializer list included); a braced initializer (`= {...}`) does not. A lambda
is part of the function it is written in.
"""
import os
import re
import sys
import tempfile

MAX_LINES = 80
# The folders of non-test code (docs/ARCHITECTURE.md); a missing one is skipped.
FOLDERS = ('base', 'web', 'agent', 'collectors', 'logs', 'push', 'supervise', 'prom')
SOURCE_EXT = ('.h', '.cc', '.c')

TOKEN = re.compile(r'[A-Za-z_][A-Za-z_0-9]*|\d[\w.]*|::|->|\S')
SCOPE_KEYWORDS = ('namespace', 'class', 'struct', 'union', 'enum', 'extern')
ACCESS = ('public', 'protected', 'private')


def blank_out(text):
    """The text with comments, literals and preprocessor lines replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    line_start = True  # only whitespace since the last newline
    while i < n:
        c = text[i]
        if c == '\n':
            out.append(c)
            line_start = True
            i += 1
            continue
        if line_start and c == '#':  # a directive, with its continuation lines
            while i < n and text[i] != '\n':
                if text[i] == '\\' and i + 1 < n and text[i + 1] == '\n':
                    out.append(' \n')
                    i += 2
                    continue
                out.append(' ')
                i += 1
            continue
        if not c.isspace():
            line_start = False
        if text.startswith('//', i):
            while i < n and text[i] != '\n':
                out.append(' ')
                i += 1
            continue
        if text.startswith('/*', i):
            end = text.find('*/', i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:end]))
            i = end
            continue
        raw = re.match(r'(?:u8|[uUL])?R"([^()\\\s]{0,16})\(', text[i:i + 24])
        if raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
            close = text.find(')' + raw.group(1) + '"', i + raw.end())
            end = n if close < 0 else close + len(raw.group(1)) + 2
            out.append('""' + re.sub(r'[^\n]', ' ', text[i + 2:end]))
            i = end
            continue
        if c in '"\'':
            if c == "'" and in_number(text, i):  # a digit separator: 60'000
                out.append(' ')
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(c + ' ' * (j - i - 2) + c if j - i >= 2 else c)
            i = j
            continue
        out.append(c)
        i += 1
    return ''.join(out)


def in_number(text, i):
    """Whether the ' at i is inside a numeric literal (a digit separator)."""
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] in "_.'"):
        j -= 1
    return j < i and text[j].isdigit()


def tokens(text):
    """(token, line number) for the blanked-out text."""
    line = 1
    pos = 0
    for m in TOKEN.finditer(text):
        line += text.count('\n', pos, m.start())
        pos = m.start()
        yield m.group(0), line


def skip_braces(toks, i):
    """toks[i] is '{': the index of its matching '}'."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j][0] == '{':
            depth += 1
        elif toks[j][0] == '}':
            depth -= 1
            if depth == 0:
                return j
    return len(toks) - 1


def name_of(head):
    """The declared name in a function head: the qualified identifier before its parameter list."""
    words = [t for t, _ in head]
    depth = 0
    for k, t in enumerate(words):
        if t == '(' and depth == 0:
            if k > 0 and words[k - 1] == 'operator':
                continue
            start = k - 1
            if start >= 1 and words[start - 1] == 'operator':
                start -= 1
            while start >= 2 and words[start - 1] == '::':
                start -= 2
            while start >= 1 and words[start - 1] in ('~', '::'):
                start -= 1
            return ''.join(words[start:k]) or '(anonymous)'
        if t == '<':
            depth += 1
        elif t == '>' and depth > 0:
            depth -= 1
    return '(unknown)'


def is_function_head(head):
    """Whether a declaration that reaches a '{' at namespace or class level is a function definition."""
    words = [t for t, _ in head]
    if '(' not in words:
        return False
    before = words[:words.index('(')]
    # `= {` or `x = f(...) {` initialise a variable; `operator=` declares a function.
    for k, t in enumerate(before):
        if t == '=' and (k == 0 or before[k - 1] != 'operator'):
            return False
    return True


def functions(text):
    """(name, first line, last line) of every function definition in C++ source text."""
    toks = list(tokens(blank_out(text)))
    found = []
    head = []  # the declaration being read at the current namespace/class level
    i = 0
    while i < len(toks):
        t, line = toks[i]
        if t in (';', '}'):
            head = []
        elif t == ':' and len(head) == 1 and head[0][0] in ACCESS:
            head = []
        elif t == '{':
            words = [w for w, _ in head]
            scope = next((w for w in words if w in SCOPE_KEYWORDS), None)
            if scope and '(' not in words[:words.index(scope)] and scope != 'enum':
                head = []  # the body of a namespace, class or extern "C": read on
            elif is_function_head(head):
                close = skip_braces(toks, i)
                if ctor_member_init(head):
                    head.append((t, line))
                    i = close + 1  # a member's braced initializer: the head goes on
                    continue
                found.append((name_of(head), head[0][1], toks[close][1]))
                head = []
                i = close + 1
                continue
            else:
                head.append((t, line))
                i = skip_braces(toks, i) + 1  # a braced initializer, an enum: part of a declaration
                continue
        else:
            head.append((t, line))
        i += 1
    return found


def ctor_member_init(head):
    """Whether a '{' after `head` is a member's braced initializer in a constructor's list (`: a_{1}`)."""
    words = [t for t, _ in head]
    depth = 0
    in_list = False
    for k, t in enumerate(words):
        if t == '(':
            depth += 1
        elif t == ')':
            depth -= 1
        elif t == ':' and depth == 0 and k > 0 and words[k - 1] == ')':
            in_list = True
    return in_list and bool(words) and re.match(r'[A-Za-z_]', words[-1]) is not None


def source_files(root):
    for top in FOLDERS:
        for dirpath, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(SOURCE_EXT) and not name.endswith(('_test.cc', '_test.h')):
                    yield os.path.join(dirpath, name)


def measure(root):
    """(lines, file, first line, name) of every function under the checked folders, longest first."""
    out = []
    for full in source_files(root):
        with open(full, encoding='utf-8', errors='replace') as f:
            text = f.read()
        rel = os.path.relpath(full, root)
        for name, first, last in functions(text):
            out.append((last - first + 1, rel, first, name))
    out.sort(key=lambda r: (-r[0], r[1], r[2]))
    return out


def too_long(root, limit=MAX_LINES):
    return [f'{rel}:{first}: {name}: {n} lines (at most {limit})' for n, rel, first, name in measure(root) if n > limit]


def self_test():
    def body(n):  # n lines: the signature's line with its '{', n - 2 statements, the '}'
        return '{\n' + '  x += 1;\n' * (n - 2) + '}\n'

    planted = {
        # 81 lines: signature to closing brace.
        'base/long.cc': 'namespace botwatch {\nint Long(int x) ' + body(81) + '\nint Short() ' + body(80) + '}\n',
        # A method inside a class, with a string, a comment and a char holding braces.
        'logs/klass.h': 'class K {\n public:\n  void Method(const std::string& s,\n              int x) {\n'
                        '    const char* a = "{{{";  // }}}\n    char b = \'}\';\n' + '    x += 1;\n' * 77 + '  }\n};\n',
        # A constructor with braced member initializers.
        'agent/ctor.cc': 'A::A(int x)\n    : a_{x}, b_(x) ' + body(85) + 'void A::Run() const ' + body(3),
        # A long initializer table and enum are not functions; a raw string and digit separators do not confuse.
        'collectors/table.cc': 'const std::vector<Row> kRows = {\n' + '    {"a", 1\'000},\n' * 90 + '};\n'
                               'enum class E {\n' + '  kA,\n' * 90 + '};\n'
                               'const char* kRaw = R"x(})x";\nint F() ' + body(10),
        # Tests are not checked.
        'web/web_server_test.cc': 'TEST_CASE("long") ' + body(120),
        'tests/unit/x.cc': 'void Helper() ' + body(200),
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in planted.items():
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), 'w') as f:
                f.write(text)
        reported = too_long(root)
        measured = {(rel, name): n for n, rel, _, name in measure(root)}
    failures = []
    expected = ['agent/ctor.cc:1: A::A: 86 lines (at most 80)', 'base/long.cc:2: Long: 81 lines (at most 80)',
                'logs/klass.h:3: Method: 82 lines (at most 80)']
    if sorted(reported) != expected:
        failures.append(f'reported {reported}, expected {expected}')
    want = {('base/long.cc', 'Short'): 80, ('agent/ctor.cc', 'A::Run'): 3, ('collectors/table.cc', 'F'): 10}
    for key, n in want.items():
        if measured.get(key) != n:
            failures.append(f'{key[0]}: {key[1]} measured {measured.get(key)}, expected {n}')
    unexpected = sorted(set(measured) - set(want) - {('agent/ctor.cc', 'A::A'), ('base/long.cc', 'Long'),
                                                       ('logs/klass.h', 'Method')})
    if unexpected:
        failures.append(f'not functions, yet measured: {unexpected}')
    return failures


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[2] not in ('check', 'list', 'self-test'):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root, what = sys.argv[1], sys.argv[2]
    if what == 'list':
        for n, rel, first, name in measure(root)[:int(sys.argv[3]) if len(sys.argv) == 4 else 25]:
            print(f'{n:4} {rel}:{first}: {name}')
        return 0
    bad = too_long(root) if what == 'check' else self_test()
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
