"""Put files and directories in place whole: write beside the target, flush to disk, rename over it.

The one implementation of fsync-and-rename that every writer uses (``check --output``, the nightly
run directory, the nightly state). A reader sees the old content or the new one, never half of it.

Only what is ours is replaced: a file target must be a regular file (never a device node, a FIFO, a
symlink or a directory), and directory replacement is the caller's decision (``nightly.run`` checks
its marker first). New files get the permissions a normal ``open`` would give (0644 under the usual
umask 022), not ``mkstemp``'s private 0600.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat
import tempfile
from pathlib import Path

from perfrules.errors import OutputError, Problem, Where

_RENAME_EXCHANGE = 2  # linux/fs.h


def current_umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def public_mode(directory: bool = False) -> int:
    """The mode ``open``/``mkdir`` would give a new file or directory under the current umask."""
    return (0o777 if directory else 0o666) & ~current_umask()


def refuse_non_regular(path: Path) -> None:
    """Raise ``OutputError`` when ``path`` exists and is anything but a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_failed(path, exc) from None
    if not stat.S_ISREG(st.st_mode):
        kind_zh, kind_en = _kind(st.st_mode)
        raise OutputError([Problem(
            "output.not-regular", f"{path} 已存在且是{kind_zh}，不是普通文件；不会替换它。",
            f"{path} exists and is {kind_en}, not a regular file; it will not be replaced.", Where(file=str(path)),
            "请换一个输出文件名。", "Choose another output file name.")])


def refuse_inputs(path: str | Path, inputs: list[str | Path]) -> None:
    """Raise ``OutputError`` when the output ``path`` is one of ``inputs`` or lies inside an input folder: the
    report would replace what it reports on (a submission, an export's table, a rule file)."""
    target = Path(path).resolve()
    for given in inputs:
        source = Path(given).resolve()
        if target == source or target.is_relative_to(source):
            raise OutputError([Problem(
                "output.is-input", f"输出文件 {path} 是输入 {given}{'' if target == source else ' 中的文件'}；不会写入它。",
                f"the output file {path} is {'the input' if target == source else 'inside the input'} {given}; it will not be written.",
                Where(file=str(path)), "请把输出写到输入之外。", "Write the output outside the inputs.")])


def write_atomic(path: str | Path, data: str | bytes, encoding: str = "utf-8") -> None:
    """Write ``data`` to ``path`` whole or not at all; a failure is an ``OutputError`` naming the file."""
    target = Path(path)
    refuse_non_regular(target)
    try:
        replace_file(target, data, encoding)
    except OSError as exc:
        raise write_failed(target, exc) from None


def replace_file(target: Path, data: str | bytes, encoding: str = "utf-8") -> None:
    """Write ``data`` to a temporary file beside ``target``, flush it, and rename it over ``target`` (``OSError`` on failure)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, public_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode(encoding) if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_directory(target.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_file(path: Path) -> None:
    """Flush a file that was written by other means (a library writer) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: Path) -> None:
    """Flush a directory's entries (new files, renames) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False when the system or file system cannot do it; the caller then falls back to two renames.
    """
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def write_failed(path: Path, exc: OSError) -> OutputError:
    """An I/O failure while writing ``path`` as a one-line error naming the file."""
    why = exc.strerror or str(exc)
    return OutputError([Problem("output.write-failed", f"无法写入 {path}：{why}。", f"cannot write {path}: {why}.",
                                Where(file=str(exc.filename or path)), "请检查路径、权限和磁盘空间。",
                                "Check the path, its permissions and the free disk space.")])


def _kind(mode: int) -> tuple[str, str]:
    if stat.S_ISDIR(mode):
        return "目录", "a directory"
    if stat.S_ISLNK(mode):
        return "符号链接", "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "命名管道", "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "设备文件", "a device"
    if stat.S_ISSOCK(mode):
        return "套接字", "a socket"
    return "特殊文件", "a special file"
