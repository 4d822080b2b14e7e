"""Batch scoring: a file of rows in, a file of predictions out, one chunk in memory at a time.

    predict_file(model, "in.parquet", "out.csv", chunk_size=10_000)  # -> rows scored

Formats follow the file extension (`.csv`, `.json`, `.jsonl`/`.ndjson`, `.parquet`/`.pq`)
unless given. CSV (`pandas.read_csv(chunksize=)`), JSON Lines (a chunk of lines at a time) and
Parquet (`ParquetFile.iter_batches`) are streamed, so memory holds one chunk of input and its
predictions whatever the size of the file. A plain JSON file (an array of row objects, or an
MLflow scoring body: `dataframe_split`, `dataframe_records`, `instances` or `inputs`, with
optional `params`) is read whole: JSON has no rows to stop between.

What is written are the predictions, as `mlflow models predict` writes them, shaped into
columns: `prediction` for one value per row, `prediction_0` … `prediction_k` for a 2-D array,
the model's own columns for a DataFrame, one column per key for a dict. `keep_columns`
carries input columns (an id) in front of them. Output goes to a temporary file beside the
target, renamed over it at the end, so a failure leaves no partial output.
"""

from __future__ import annotations

import enum
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from cairn.exceptions import (
    BadRequest,
    CairnException,
    InvalidParameterValue,
    ResourceDoesNotExist,
    SchemaEnforcementError,
)

DEFAULT_CHUNK_SIZE = 10_000


class FileFormat(enum.StrEnum):
    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"
    PARQUET = "parquet"


_EXTENSIONS = {
    ".csv": FileFormat.CSV,
    ".json": FileFormat.JSON,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
    ".parquet": FileFormat.PARQUET,
    ".pq": FileFormat.PARQUET,
}


def file_format(path: str | os.PathLike[str], given: str | None = None) -> FileFormat:
    """The format `given` names, else the one `path`'s extension names."""
    if given:
        try:
            return FileFormat(given.lower())
        except ValueError:
            raise InvalidParameterValue(
                f"Unknown format {given!r}: use {', '.join(f.value for f in FileFormat)}"
            ) from None
    suffix = Path(path).suffix.lower()
    found = _EXTENSIONS.get(suffix)
    if found is None:
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise InvalidParameterValue(
            f"Cannot tell the format of {os.fspath(path)!r} ({what}): name it "
            f"{', '.join(_EXTENSIONS)}, or give the format"
        )
    return found


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """How far a batch has got; totals are None when not cheaply known (CSV and JSON Lines
    know their size in bytes, Parquet its rows)."""

    rows: int
    total_rows: int | None
    bytes_read: int | None
    total_bytes: int | None


def predict_file(
    model: Any,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    params: Mapping[str, Any] | None = None,
    keep_columns: Sequence[str] = (),
    progress: Callable[[BatchProgress], None] | None = None,
) -> int:
    """Score every row of `input_path` with `model` (anything with `predict(data, params)`
    and `metadata`, e.g. a `PyFuncModel`) and write the predictions to `output_path`.

    `params` go to every `predict` call (after a JSON body's own `params`); `keep_columns`
    are input columns copied into the output. Returns the number of rows scored. Raises
    `SchemaEnforcementError` naming the chunk's first row and the column at fault, and
    `InvalidParameterValue` / `ResourceDoesNotExist` for unreadable input.
    """
    if chunk_size < 1:
        raise InvalidParameterValue(f"The chunk size must be at least 1, got {chunk_size}")
    source, target = Path(input_path), Path(output_path)
    reader = _Reader(source, file_format(source, input_format), chunk_size, model, keep_columns)
    out_format = file_format(target, output_format)
    if not source.is_file():
        raise ResourceDoesNotExist(f"No input file {str(source)!r}")
    if target.exists() and target.resolve() == source.resolve():
        raise InvalidParameterValue(f"The output {str(target)!r} would overwrite the input")
    if not target.parent.is_dir():
        raise ResourceDoesNotExist(f"No directory {str(target.parent)!r} for the output")
    if target.is_dir():
        raise InvalidParameterValue(f"The output {str(target)!r} is a directory")
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        with reader, _Writer.open(partial, out_format) as writer:
            rows = _score(model, reader, writer, dict(params or {}), list(keep_columns), progress)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return rows


def _score(
    model: Any,
    reader: _Reader,
    writer: _Writer,
    params: dict[str, Any],
    keep_columns: list[str],
    progress: Callable[[BatchProgress], None] | None,
) -> int:
    rows = 0

    def report() -> None:
        if progress is not None:
            progress(
                BatchProgress(rows, reader.total_rows, reader.bytes_read(), reader.total_bytes)
            )

    report()
    for chunk in reader:
        where = _where(reader, rows + 1, chunk.rows)
        chunk_params = {**(chunk.params or {}), **params} or None
        try:
            predictions = model.predict(chunk.data, chunk_params)
        except SchemaEnforcementError as e:
            raise SchemaEnforcementError(f"In {where}: {e.message}") from e
        except CairnException:
            raise
        except Exception as e:
            raise CairnException(f"The model failed on {where}: {type(e).__name__}: {e}") from e
        frame = prediction_frame(predictions, chunk.rows, where)
        if keep_columns:
            frame = _with_kept(chunk.data, frame, keep_columns)
        writer.write(frame, where)
        rows += chunk.rows
        report()
    return rows


def _where(reader: _Reader, first: int, count: int) -> str:
    last = first + count - 1
    span = f"row {first:,}" if count == 1 else f"rows {first:,}-{last:,}"
    return f"{span} of {reader.path.name}"


def prediction_frame(predictions: Any, rows: int, where: str = "") -> Any:
    """Predictions as a DataFrame of `rows` rows (see the module docstring for the columns)."""
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        frame = predictions.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
    elif isinstance(predictions, pd.Series):
        name = "prediction" if predictions.name is None else str(predictions.name)
        frame = pd.DataFrame({name: predictions.to_numpy()})
    elif isinstance(predictions, Mapping):
        columns: dict[str, Any] = {}
        for key, value in predictions.items():
            columns.update(_columns(str(key), value))
        frame = pd.DataFrame(columns)
    elif np.ndim(predictions) == 0 and not isinstance(predictions, list):
        frame = pd.DataFrame({"prediction": [predictions]})
    else:
        frame = pd.DataFrame(_columns("prediction", predictions))
    if len(frame) != rows:
        raise CairnException(
            f"The model returned {len(frame):,} predictions for {where or f'{rows:,} rows'}: "
            "batch output needs one prediction per input row"
        )
    return frame


def _columns(name: str, value: Any) -> dict[str, Any]:
    import numpy as np

    try:
        array = np.asarray(value)
    except ValueError:  # ragged lists: one list per row
        return {name: list(value)}
    if array.ndim <= 1:
        return {name: array.reshape(-1)}
    if array.ndim == 2:
        return {f"{name}_{i}": array[:, i] for i in range(array.shape[1])}
    return {name: [row.tolist() for row in array]}


def _with_kept(data: Any, frame: Any, keep_columns: list[str]) -> Any:
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InvalidParameterValue("Input columns can be kept only from tabular input")
    missing = [c for c in keep_columns if c not in data.columns]
    if missing:
        raise InvalidParameterValue(
            f"No input column {', '.join(map(repr, missing))} to keep "
            f"(columns: {', '.join(map(repr, map(str, data.columns)))})"
        )
    clash = [c for c in keep_columns if c in frame.columns]
    if clash:
        raise InvalidParameterValue(
            f"Kept column {', '.join(map(repr, clash))} has the name of a prediction column"
        )
    kept = data[keep_columns].reset_index(drop=True)
    return pd.concat([kept, frame], axis=1)


@dataclass(slots=True)
class _Chunk:
    data: Any
    rows: int
    params: dict[str, Any] | None = None


class _Reader:
    """The chunks of an input file, and how far through it the reading is."""

    def __init__(
        self, path: Path, fmt: FileFormat, chunk_size: int, model: Any, keep: Sequence[str]
    ) -> None:
        self.path = path
        self.format = fmt
        self.chunk_size = chunk_size
        self.total_rows: int | None = None
        self.total_bytes: int | None = None
        self._signature = getattr(getattr(model, "metadata", None), "signature", None)
        self._wanted = _wanted_columns(self._signature, keep)
        self._handle: IO[bytes] | None = None
        self._parquet: Any = None

    def __enter__(self) -> _Reader:
        if self.format in (FileFormat.CSV, FileFormat.JSONL):
            try:
                self._handle = open(self.path, "rb")  # closed by __exit__
            except OSError as e:
                raise self._fail(self.format.name, e) from None
            self.total_bytes = os.fstat(self._handle.fileno()).st_size
        elif self.format is FileFormat.PARQUET:
            self._parquet = self._open_parquet()
            self.total_rows = self._parquet.metadata.num_rows
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._parquet is not None:
            self._parquet.close()

    def bytes_read(self) -> int | None:
        if self._handle is None or self._handle.closed:
            return None
        return self._handle.tell()

    def __iter__(self) -> Iterator[_Chunk]:
        if self.format is FileFormat.CSV:
            return self._csv()
        if self.format is FileFormat.JSONL:
            return self._jsonl()
        if self.format is FileFormat.PARQUET:
            return self._parquet_chunks()
        return self._json()

    def _fail(self, what: str, e: BaseException) -> InvalidParameterValue:
        text = (str(e).strip() or type(e).__name__).splitlines()[0]
        return InvalidParameterValue(f"Cannot read {str(self.path)!r} as {what}: {text}")

    def _csv(self) -> Iterator[_Chunk]:
        import pandas as pd

        assert self._handle is not None
        try:
            reader = pd.read_csv(
                self._handle,
                chunksize=self.chunk_size,
                encoding="utf-8-sig",  # a byte-order mark is not part of the first name
                usecols=None if self._wanted is None else self._wanted.__contains__,
            )
        except pd.errors.EmptyDataError:
            raise InvalidParameterValue(
                f"The CSV file {str(self.path)!r} is empty: it needs a header row"
            ) from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
            raise self._fail("CSV", e) from None
        with reader:
            frames = iter(reader)
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    return
                except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
                    raise self._fail("CSV", e) from None
                yield _Chunk(frame, len(frame))

    def _jsonl(self) -> Iterator[_Chunk]:
        import pandas as pd

        assert self._handle is not None
        records: list[Any] = []
        for number, line in enumerate(self._handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise InvalidParameterValue(
                    f"Line {number:,} of {str(self.path)!r} is not valid JSON: {e}"
                ) from None
            if not isinstance(record, dict):
                raise InvalidParameterValue(
                    f"Line {number:,} of {str(self.path)!r} must be a JSON object (one row)"
                )
            records.append(record)
            if len(records) == self.chunk_size:
                yield _Chunk(pd.DataFrame(records), len(records))
                records = []
        if records:
            yield _Chunk(pd.DataFrame(records), len(records))

    def _open_parquet(self) -> Any:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InvalidParameterValue(
                "Reading Parquet needs pyarrow: pip install pyarrow"
            ) from None
        try:
            return pq.ParquetFile(self.path)
        except Exception as e:  # pyarrow raises ArrowInvalid, OSError and others
            raise self._fail("Parquet", e) from None

    def _parquet_chunks(self) -> Iterator[_Chunk]:
        columns = None
        if self._wanted is not None:
            columns = [c for c in self._parquet.schema_arrow.names if c in self._wanted] or None
        for batch in self._parquet.iter_batches(batch_size=self.chunk_size, columns=columns):
            frame = batch.to_pandas()
            yield _Chunk(frame, len(frame))

    def _json(self) -> Iterator[_Chunk]:
        import pandas as pd

        from cairn.serving.inputs import parse_json

        try:
            body = self.path.read_bytes()
        except OSError as e:
            raise self._fail("JSON", e) from None
        self.total_bytes = len(body)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise self._fail("JSON", e) from None
        params = None
        if isinstance(payload, list):
            if any(isinstance(row, dict) for row in payload) and not all(
                isinstance(row, dict) for row in payload
            ):
                raise InvalidParameterValue(
                    f"The JSON array in {str(self.path)!r} mixes objects and other values"
                )
            data: Any = pd.DataFrame(payload)
        else:
            try:
                parsed = parse_json(body, self._signature)
            except BadRequest as e:
                raise InvalidParameterValue(f"{str(self.path)!r}: {e.message}") from None
            data, params = parsed.data, parsed.params
            if not isinstance(data, pd.DataFrame):
                self.total_rows = parsed.rows
                yield _Chunk(data, parsed.rows, params)
                return
        del payload, body
        self.total_rows = len(data)
        for start in range(0, len(data), self.chunk_size):
            part = data.iloc[start : start + self.chunk_size]
            yield _Chunk(part, len(part), params)


def _wanted_columns(signature: Any, keep: Sequence[str]) -> frozenset[str] | None:
    """The columns worth reading from CSV and Parquet: the signature's and the kept ones
    (the signature's enforcement drops any other). None, all of them, for a model without a
    signature or with unnamed or tensor inputs."""
    inputs = getattr(signature, "inputs", None)
    if inputs is None or inputs.is_tensor_spec or not inputs.has_input_names:
        return None
    return frozenset([*inputs.input_names(), *keep])


class _Writer:
    """Appends prediction frames to a file of one format; the columns of the first frame
    are the file's."""

    def __init__(self, handle: IO[bytes], fmt: FileFormat) -> None:
        self._handle = handle
        self._format = fmt
        self._columns: list[str] | None = None
        self._parquet: Any = None
        self._json_rows = False

    @classmethod
    def open(cls, path: Path, fmt: FileFormat) -> _Writer:
        try:
            # O_EXCL: the name is random, and a file already there is not ours to write over.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as e:
            raise InvalidParameterValue(
                f"Cannot write in {str(path.parent)!r}: {e.strerror or e}"
            ) from None
        return cls(os.fdopen(fd, "wb"), fmt)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is None:
                self._finish()
            elif self._parquet is not None:
                self._parquet.close()
        finally:
            self._handle.close()

    def write(self, frame: Any, where: str) -> None:
        columns = [str(c) for c in frame.columns]
        if self._columns is None:
            self._columns = columns
            if self._format is FileFormat.JSON:
                self._handle.write(b"[")
        elif columns != self._columns:
            raise InvalidParameterValue(
                f"The predictions for {where} have columns {columns}, the earlier ones "
                f"{self._columns}: every chunk must give the same columns"
            )
        if self._format is FileFormat.CSV:
            frame.to_csv(self._handle, header=self._handle.tell() == 0, index=False)
        elif self._format is FileFormat.PARQUET:
            self._write_parquet(frame, where)
        elif len(frame):
            self._write_json(frame, columns)

    def _write_json(self, frame: Any, columns: list[str]) -> None:
        from cairn.serving.outputs import dumps

        values = [frame.iloc[:, i].tolist() for i in range(len(columns))]
        records = [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
        if self._format is FileFormat.JSONL:
            # Written row by row: a chunk's worth of small bytes objects kept alive at once
            # costs ~15x more than writing each as it is made.
            write = self._handle.write
            for record in records:
                write(dumps(record))
                write(b"\n")
        else:
            separator = b"," if self._json_rows else b""
            self._handle.write(separator + dumps(records)[1:-1])
            self._json_rows = True

    def _write_parquet(self, frame: Any, where: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self._handle, table.schema)
        elif table.schema != self._parquet.schema:
            try:
                table = table.cast(self._parquet.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                raise InvalidParameterValue(
                    f"The predictions for {where} have the types {table.schema.types}, the "
                    f"earlier ones {self._parquet.schema.types}: Parquet needs one type a column"
                ) from None
        self._parquet.write_table(table)

    def _finish(self) -> None:
        if self._format is FileFormat.JSON:
            self._handle.write(b"[]\n" if self._columns is None else b"]\n")
        elif self._format is FileFormat.PARQUET:
            if self._parquet is None:
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.table({}), self._handle)
            else:
                self._parquet.close()
