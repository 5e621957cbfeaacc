"""A file's identity is its (device, inode), never its inode alone (rev6): a file replaced by
one of another file system with the same inode number is another file, so a kept fd is not
handed out for it (`KeptFds.take`), and `FileToken`s of the two differ."""

from __future__ import annotations

import os

from dbengine.kept_fds import FileToken, KeptFds, file_id


def test_a_kept_fd_is_not_handed_out_for_the_same_inode_on_another_device(tmp_path):
    path = tmp_path / "index"
    path.write_bytes(b"line\n")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    info = os.fstat(fd)
    kept = KeptFds()
    kept.keep("k", fd, file_id(info))
    same_inode_elsewhere = FileToken(info.st_ino, info.st_size, info.st_mtime_ns, info.st_dev + 1)
    assert kept.take("k", str(path), same_inode_elsewhere) is None  # (and the kept fd closed)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    kept.keep("k", fd, file_id(info))
    taken = kept.take("k", str(path), FileToken(info.st_ino, info.st_size, info.st_mtime_ns, info.st_dev))
    assert taken == (fd, info.st_size)
    os.close(fd)


def test_file_tokens_of_the_same_inode_on_two_devices_differ(make_engine):
    engine = make_engine()
    engine.init("t")
    engine.save("t", "alice", "e", {"n": 0})
    token = engine.storage.index_token("t", "e")
    info = os.lstat(engine.storage.index_path("t", "e"))
    assert token == FileToken(info.st_ino, info.st_size, info.st_mtime_ns, info.st_dev)
    assert token != token._replace(device=token.device + 1)
    assert token.inode == info.st_ino  # (its fields keep their meaning)


def test_head_tokens_of_the_same_inode_size_and_mtime_on_two_devices_differ(tmp_path):
    """A head file swapped for one of another file system with the same inode, size and mtime is
    another head: a compare-and-swap on the old token must not accept it."""
    from dbengine.storage import _head_token

    path = tmp_path / "head"
    path.write_bytes(b"{}")
    info = os.stat(path)
    fields = list(info)  # st_mode, st_ino, st_dev, ... (os.stat_result's sequence order)
    fields[2] = info.st_dev + 1
    elsewhere = os.stat_result(fields, {"st_mtime_ns": info.st_mtime_ns})
    assert elsewhere.st_ino == info.st_ino and elsewhere.st_mtime_ns == info.st_mtime_ns
    assert _head_token(None, elsewhere) != _head_token(None, info)
    assert _head_token(None, os.stat(path)) == _head_token(None, info)
