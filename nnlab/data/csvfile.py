"""Reading a CSV file as text, the way its author meant it: `read_table`.

- The whole file is decoded: UTF-8 (with or without a byte-order mark), else Windows-1252 (what Excel
  writes on Windows), else Latin-1; `data.encoding` overrides. A file that is not UTF-8 gets a note.
- The separator (`,` `;` tab `|`) is detected from the first lines; `data.delimiter` overrides. Excel's
  first line `sep=;` (which names the separator) is read as the separator it names, and left out.
- Every cell is read as text, trimmed; quoted cells may hold separators and line breaks.
- Cells that mean "missing" become missing: empty cells, `NA`, `N/A`, `NaN`, `NULL`, `None`, `#N/A`,
  `?`, `-`, `--`, `—`, Excel's `#VALUE!` and `#DIV/0!`, and the spec's own `na_values`. A note says
  which spellings were found where (an empty cell needs no note).
- Empty rows and empty, nameless columns (what Excel leaves after the data) are dropped, with a note.
- A compressed file (gzip, bz2, xz, or a zip holding one CSV) is read through, with a note; an Excel
  workbook or a Parquet file is refused with how to read it (they are not text).

What each column holds (numbers, dates, categories) is decided later, from this text (`tabular`).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from nnlab.errors import DataError
from nnlab.spec.limits import MAX_COLUMNS, how_to_raise, limit

MISSING = ("", "na", "n/a", "nan", "null", "none", "#n/a", "#na", "n.a.", "?", "??", "-", "--", "---", "—", "–",
           "#value!", "#div/0!", "#ref!", "#null!", "#num!", "<na>", "nil")
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1"}


def check_file(path: Path, needs: str) -> None:
    """A clear error unless `path` is a regular file (a device such as /dev/zero, or a pipe, would be
    read for ever)."""
    if not path.exists():
        raise DataError(f"Data file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; {needs}")
    if not path.is_file():
        raise DataError(f"{path} is not a regular file (a device, a pipe or a socket); {needs}")


def read_table(path: Path, na_values=(), delimiter: str | None = None, encoding: str | None = None,
               notes: list[str] | None = None, numbers: bool = False, text_columns=()) -> pd.DataFrame:
    """The CSV file as a table of text (missing cells as NaN); what was decided goes to `notes`.
    `numbers`: a column of plain numbers comes back as numbers (see `parse`), except the columns named in
    `text_columns` (in any case)."""
    notes = [] if notes is None else notes
    check_file(path, "`source: csv` needs a CSV file")
    raw = path.read_bytes()
    if not raw:
        raise DataError(f"The CSV file {path} is empty (0 bytes)")
    text = decode(unpack(raw, path, notes), path, encoding, notes)
    raw = None  # (the bytes, decoded: not held beside the table being read)
    text, named = _excel_separator_line(text, path, delimiter, notes)
    sep = delimiter or named or _sniff_delimiter(text)
    _check_width(text, sep, path)
    header, blanks = _first_line(text), _starts_with_blanks(text, sep)
    data, text = text.encode("utf-8"), None  # (what pandas reads; the decoded text not held beside the table)
    try:
        frame = parse(data, sep, numbers, text_columns, blanks)
    except pd.errors.EmptyDataError:
        raise DataError(f"The CSV file {path} has no header and no rows") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"Cannot parse the CSV file {path}: {str(exc).strip()}") from None
    _note_repeated_names(header, sep, frame, notes)
    _note_row_names(frame, path, notes)
    frame = tidy(frame, na_values, notes)
    if frame.empty:
        raise DataError(f"The CSV file {path} has a header but no rows")
    return frame


def _note_row_names(frame: pd.DataFrame, path: Path, notes: list[str]) -> None:
    """Rows longer than the header (R's write.csv writes a row name first): pandas reads the first fields as
    the index, which is left out; a note says so."""
    if frame.index.equals(pd.RangeIndex(len(frame))):
        return
    extra = frame.index.nlevels
    notes.append(f"the rows of {path.name} have {extra} more field{'s' if extra > 1 else ''} than its header (as "
                 f"R's write.csv writes row names): the first {'field' if extra == 1 else f'{extra} fields'} of "
                 "each row read as a row name and left out")


def _check_width(text: str, sep: str, path: Path) -> None:
    """Refuse, before reading the rows, a header with more columns than the limit."""
    header = _first_line(text)
    count = header.count(sep) + 1 if len(sep) == 1 else len(re.split(sep, header))
    most = int(limit(MAX_COLUMNS))
    if count > most:
        raise DataError(f"{path.name} has {count:,} columns, more than the {most:,} nnlab reads from a CSV file (each "
                        "is typed on its own, and this many would take minutes); for many numeric columns (pixels, "
                        "measurements) save the arrays as an .npz with x and y and use `source: npz`, or "
                        f"{how_to_raise(MAX_COLUMNS)}")


def parse(data: bytes, sep: str, numbers: bool = False, text_columns=(), blanks: bool = True) -> pd.DataFrame:
    """The CSV text (UTF-8) as a table of text (pandas' C reader; a separator of several characters, its
    Python one; `blanks`: fields may start with spaces to skip).
    `numbers`: each column pandas reads as plain numbers (digits, a point, an exponent; empty cells missing)
    is kept as numbers: what the text rules would make of it (`tabular`), without a string for each cell.
    A column is read again as text where its numbers could hide what the rules read in its text: true and
    false, infinities, text beside numbers (pandas reads long files in chunks), numbers like `1.234` that
    could have a thousands point, and the columns in `text_columns`. In a file with a `+` (`+5` is noted
    as a number written its own way) every column is read as text."""
    options = {"sep": sep, "skipinitialspace": blanks, "engine": "c" if len(sep) == 1 else "python",
               "encoding": "utf-8"}
    plus = b"+" in data
    data = io.BytesIO(data)  # (bytes: pandas reads them without a 4-byte-a-character copy, and shares them)
    if not numbers or len(sep) != 1 or plus:
        return pd.read_csv(data, dtype=str, keep_default_na=False, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        frame = pd.read_csv(data, keep_default_na=False, na_values=[""], **options)
    if not frame.index.equals(pd.RangeIndex(len(frame))):  # (rows longer than the header: text, as before)
        data.seek(0)
        return pd.read_csv(data, dtype=str, keep_default_na=False, **options)
    named = {str(c).strip().lower() for c in text_columns}
    again = sorted({i for i, col in enumerate(frame.columns) if str(col).strip().lower() in named} | _hiding(frame))
    pointed = [i for i, kind in enumerate(frame.dtypes) if i not in again and pd.api.types.is_float_dtype(kind)]
    if pointed:  # (a number with a point: 1.234 may mean 1234; one that cannot in the first rows settles it)
        data.seek(0)
        head = pd.read_csv(data, dtype=str, keep_default_na=False, usecols=pointed, nrows=200, **options)
        cells = head.to_numpy(object)
        again += [i for position, i in enumerate(pointed) if not _settled(cells[:, position])]
    if again:
        again = sorted(again)  # (pandas gives the columns read again in the file's order)
        data.seek(0)
        texts = pd.read_csv(data, dtype=str, keep_default_na=False, usecols=again, **options)
        for position, i in enumerate(again):
            frame.isetitem(i, texts.iloc[:, position])
    return frame


def _starts_with_blanks(text: str, sep: str) -> bool:
    """Whether a field may start with a space or a tab, skipped in reading (pandas' reader is a third slower
    when it skips them; a file without a blank, as wide files of numbers are, is read without)."""
    blanks = [b for b in " \t" if b != sep and b in text]  # (one character: a quick search)
    return any(text.startswith(b) or f"{sep}{b}" in text or f"\n{b}" in text for b in blanks) or len(sep) > 1


def _hiding(frame: pd.DataFrame) -> set[int]:
    """The columns whose reading by pandas may not be what their text says: true/false, text beside numbers,
    infinities (worked out by kind of column, the numbers as blocks: a file may have a thousand columns)."""
    hiding = set()
    floats = [i for i, kind in enumerate(frame.dtypes) if pd.api.types.is_float_dtype(kind)]
    for start in range(0, len(floats), 256):
        block = floats[start:start + 256]
        infinite = np.isinf(frame.iloc[:, block].to_numpy(np.float64)).any(axis=0)
        hiding |= {i for i, bad in zip(block, infinite) if bad}
    for i, kind in enumerate(frame.dtypes):
        if pd.api.types.is_bool_dtype(kind):
            hiding.add(i)
        elif not pd.api.types.is_numeric_dtype(kind) and \
                pd.api.types.infer_dtype(frame.iloc[:, i], skipna=True) not in ("string", "empty"):
            hiding.add(i)
    return hiding


_THOUSANDS_LIKE = re.compile(r"-?\d{1,3}\.\d{3}")


def _settled(texts: np.ndarray) -> bool:
    """Whether texts show a number with a point that is no thousands point (`12.5`, `1234.5`): then
    the text rules read the column as pandas does (`numbers.parse_column`)."""
    return any(isinstance(t, str) and "." in t and not _THOUSANDS_LIKE.fullmatch(t.strip()) for t in texts)


def _first_line(text: str) -> str:
    """The header line (a file may end its lines with a line feed, CR-LF or, from old Macs, a lone CR)."""
    ends = [end for end in (text.find("\n"), text.find("\r")) if end >= 0]
    return text[:min(ends)] if ends else text


_COMPRESSED = ((b"\x1f\x8b", "gzip", gzip.decompress), (b"BZh", "bz2", bz2.decompress),
               (b"\xfd7zXZ\x00", "xz", lzma.decompress))
_NOT_TEXT = ((b"\xd0\xcf\x11\xe0", "an Excel workbook (.xls)"), (b"PAR1", "a Parquet file"))
_HOW_TO_READ = ("save it as CSV (Excel: File → Save As → CSV UTF-8), or from Python read it with pandas and give the "
                "DataFrame: nnlab.run(spec, data=frame)")


def unpack(raw: bytes, path: Path, notes: list[str]) -> bytes:
    """The file's bytes as text bytes: a compressed file decompressed (a note says so); a workbook or a
    binary table refused with how to read it."""
    for magic, name, decompress in _COMPRESSED:
        if raw.startswith(magic):
            try:
                data = decompress(raw)
            except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
                raise DataError(f"{path.name} is {name}-compressed but cannot be decompressed ({exc})") from None
            notes.append(f"{path.name} is {name}-compressed: read decompressed")
            return data
    for magic, what in _NOT_TEXT:
        if raw.startswith(magic):
            raise DataError(f"{path.name} is {what}, not a CSV file: {_HOW_TO_READ}")
    if raw.startswith(b"PK\x03\x04"):
        return _unzip(raw, path, notes)
    return raw


def _unzip(raw: bytes, path: Path, notes: list[str]) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path.name} is a damaged zip file ({exc})") from None
    names = [n for n in archive.namelist() if not n.endswith("/") and "__MACOSX" not in n]
    if any(n.startswith("xl/") for n in names):
        raise DataError(f"{path.name} is an Excel workbook (.xlsx), not a CSV file: {_HOW_TO_READ}")
    tables = [n for n in names if n.lower().endswith((".csv", ".tsv", ".txt"))]
    if len(tables) != 1:
        listed = ", ".join(tables[:5]) or ", ".join(names[:5]) or "nothing"
        raise DataError(f"{path.name} is a zip file holding {len(tables)} CSV files ({listed}): unzip it and give "
                        "the one to read")
    notes.append(f"{path.name} is a zip file: read {tables[0]} from it")
    return archive.read(tables[0])


def decode(raw: bytes, path: Path, encoding: str | None, notes: list[str]) -> str:
    """The file's text: in `encoding` when given, else the first of UTF-8, Windows-1252, Latin-1 that
    decodes the whole file."""
    if encoding:
        try:
            return raw.decode(encoding).removeprefix("\ufeff")
        except LookupError:
            raise DataError(f"data.encoding {encoding!r} is not an encoding Python knows (e.g. utf-8, cp1252, "
                            "latin-1)") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{path.name} is not {encoding}: byte {exc.start} ({raw[exc.start:exc.start + 1]!r}) "
                            "cannot be decoded; leave data.encoding out to let nnlab detect it") from None
    for candidate in ENCODINGS:
        try:
            text = raw.decode(candidate)
        except UnicodeDecodeError:
            continue
        if candidate != "utf-8-sig":
            notes.append(f"{path.name} is not UTF-8: decoded as {ENCODING_NAMES[candidate]}; set data.encoding "
                         "if that is wrong")
        return text
    raise AssertionError("latin-1 decodes every byte")


def _note_repeated_names(line: str, sep: str, frame: pd.DataFrame, notes: list[str]) -> None:
    """Say so where two columns of the header `line` have one name (pandas reads the second as `name.1`)."""
    if len(sep) != 1:
        return
    header = next(csv.reader(io.StringIO(line), delimiter=sep), [])
    written = [h.strip() for h in header]
    for i, name in enumerate(written):
        if name and written.index(name) < i and i < len(frame.columns):
            notes.append(f"two columns are named {name!r}: the one in position {i + 1} is read as "
                         f"{str(frame.columns[i]).strip()!r}")


_SEP_LINE = re.compile(r"\A\ufeff?[\"']?sep=(.)[\"']?[ \t]*(?:,+|;+|\t+)?[ \t]*\r?(\n|\Z)", re.IGNORECASE)


def _excel_separator_line(text: str, path: Path, delimiter: str | None, notes: list[str]) -> tuple[str, str | None]:
    """Excel's first line `sep=;` names the separator and is no row: the text without it, and the
    separator it names (a note says so; data.delimiter, when given, still decides)."""
    match = _SEP_LINE.match(text)
    if match is None:
        return text, None
    named = "\t" if match.group(1) == "\\" else match.group(1)
    shown = "tab" if named == "\t" else repr(named)
    if delimiter and delimiter != named:
        notes.append(f"{path.name} begins with Excel's `sep={match.group(1)}` line: left out; data.delimiter "
                     f"{delimiter!r} is used, not the {shown} that line names")
    else:
        notes.append(f"{path.name} begins with Excel's `sep={match.group(1)}` line: read with {shown} as the "
                     "separator, that line left out")
    return text[match.end():], named


def _sniff_delimiter(text: str) -> str:
    end = -1
    for _ in range(51):  # (the first 50 lines, not all of a large file's)
        end = text.find("\n", end + 1)
        if end < 0:
            break
    sample = "\n".join((text if end < 0 else text[:end]).splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _without_repeated_headers(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """The rows that repeat the column names (files joined end to end, each with its header) left out."""
    if frame.shape[1] < 2 or frame.empty:
        return frame
    repeats = np.ones(len(frame), bool)
    for col in frame.columns:  # (the first column that never holds its name ends the search)
        repeats &= _holds_name(frame[col], str(col).lower())
        if not repeats.any():
            return frame
    rows = (frame.index[repeats][:3] + 1).tolist()  # (counted from the first row after the header)
    notes.append(f"{int(repeats.sum())} row(s) repeating the column names (data row {', '.join(map(str, rows))}"
                 f"{', …' if repeats.sum() > 3 else ''}: files joined with their headers) were left out")
    return frame[~repeats]


def _holds_name(series: pd.Series, name: str) -> np.ndarray:
    """Which cells are the column's own name (in any case; a column of numbers: its name's number)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        try:
            return (series == float(name)).to_numpy(bool)
        except ValueError:
            return np.zeros(len(series), bool)
    codes, distinct = pd.factorize(series)
    same = pd.Series(distinct).astype("string").str.lower().eq(name).fillna(False).to_numpy(bool)
    return np.where(codes >= 0, same[codes], False) if len(same) else np.zeros(len(series), bool)


def tidy(frame: pd.DataFrame, na_values=(), notes: list[str] | None = None) -> pd.DataFrame:
    """A table as a user means it: names and text cells trimmed, the spellings of "missing" (and the
    spec's `na_values`) missing, empty rows and the empty nameless columns of trailing separators
    dropped. A DataFrame given from Python gets the same treatment as a file (its numbers stay)."""
    notes = [] if notes is None else notes
    frame = frame.copy(deep=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    spellings = {m.lower() for m in MISSING} | {str(v).strip().lower() for v in na_values}
    for i, col in enumerate(frame.columns):
        series = frame.iloc[:, i]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        values, said = _tidy_text(series, spellings)
        if len(said) and len(said) < len(series):
            shown = ", ".join(f"{v!r} ({n})" for v, n in said.head(5).items())
            notes.append(f"column {col!r}: {shown} read as missing")
        frame.isetitem(i, values)
    unnamed = [c for c in frame.columns if (c.startswith("Unnamed:") or c == "") and frame[c].isna().all()]
    if unnamed:
        notes.append(f"{len(unnamed)} empty column(s) without a name (left by trailing separators) were dropped")
        frame = frame.drop(columns=unnamed)
    frame = _without_repeated_headers(frame, notes)  # (their empty cells repeat no name)
    empty_rows = frame.isna().all(axis=1)
    if empty_rows.any() and not empty_rows.all():
        notes.append(f"{int(empty_rows.sum())} empty row(s) were dropped")
        frame = frame[~empty_rows]
    return frame.reset_index(drop=True)


def _tidy_text(series: pd.Series, spellings: set[str]) -> tuple[pd.Series, pd.Series]:
    """A text column trimmed, its spellings of missing as NaN (objects: text and NaN), and how often each
    spelling other than an empty cell was found, most frequent first. Each distinct value is worked on
    once (a column of 500,000 rows rarely holds as many different texts)."""
    codes, distinct = pd.factorize(series)
    text = pd.Series(distinct).astype("string").str.strip()
    missing = (text.isna() | text.str.lower().isin(spellings)).to_numpy(bool)
    kept = text.astype(object).where(~missing, np.nan).to_numpy(object)
    values = np.where(codes >= 0, kept[codes] if len(kept) else np.nan, np.nan) if len(codes) else kept[:0]
    counts = np.bincount(codes[codes >= 0], minlength=len(distinct))
    spelled = missing & text.notna().to_numpy(bool) & (text != "").fillna(False).to_numpy(bool)
    said = pd.Series(counts[spelled], index=text[spelled].to_numpy(object), dtype=np.int64)
    said = said.groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")
    return pd.Series(values, index=series.index, dtype=object), said
