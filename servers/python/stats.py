"""A server's own counters, written when it stops in the JSON format of
sockbench's Go servers (servers/stats.go, version 1), so the runner reads
them the same way. Counters a layer cannot observe stay zero: asyncio,
uvloop and trio accept and poll inside the framework, so only the raw
layers count accept calls, listener wakeups and syscalls.
"""

import json
import os

VERSION = 1

# The counters, in servers.Stats' JSON names. Those in OMIT_ZERO are left
# out when zero, as the Go servers leave them out.
FIELDS = ("connections", "requests", "errors", "accept_calls", "listener_wakeups",
          "refused", "accept_errors", "timed_out", "bytes_read", "bytes_written")
OMIT_ZERO = {"listener_wakeups", "refused", "accept_errors", "timed_out"}


class Stats:
    __slots__ = FIELDS + ("syscalls",)

    def __init__(self):
        for f in FIELDS:
            setattr(self, f, 0)
        # Syscalls by the name strace gives them (recvfrom, not read).
        self.syscalls = {}

    def add(self, other):
        """Merge another process's counters (a dict as to_json wrote it)."""
        for f in FIELDS:
            setattr(self, f, getattr(self, f) + other.get(f, 0))
        for name, n in other.get("syscalls", {}).items():
            self.syscalls[name] = self.syscalls.get(name, 0) + n

    def to_json(self, server):
        out = {"version": VERSION, "server": server}
        for f in FIELDS:
            v = getattr(self, f)
            if v or f not in OMIT_ZERO:
                out[f] = v
        if self.listener_wakeups:
            # Thread post #19: accepts per wakeup.
            out["accepts_per_wakeup"] = self.connections / self.listener_wakeups
        syscalls = {k: v for k, v in self.syscalls.items() if v}
        if syscalls:
            out["syscalls"] = syscalls
        return out


def write_file(path, doc):
    """Write doc as JSON to path atomically (temporary file and rename), so
    a reader never sees half a file."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
