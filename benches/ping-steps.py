#!/usr/bin/env python3
"""ping-steps.py: where a daemon's time goes on each packet of an idle-tunnel ping.

Reads `perf script -F pid,tid,time,event,trace` output of the events
raw_syscalls:sys_enter, raw_syscalls:sys_exit and sched:sched_switch, recorded for the
daemons only (netns-ping.sh --steps does this), and prints, for each daemon process, the
median duration of each system call and of each stretch of user code between two calls
("read -> sendmsg" is the user code that ran after a read returned and before sendmsg was
entered). Calls that slept, and stretches cut by a preemption, are left out: what remains is
the work on the packet's path. Usage: ping-steps.py PERF_SCRIPT_OUTPUT [LABEL=PID ...]
"""
import collections
import re
import statistics
import sys

# x86_64 system call numbers of the calls the daemons make per packet.
NAMES = {
    0: "read", 1: "write", 3: "close", 7: "poll", 16: "ioctl", 19: "readv", 20: "writev",
    24: "sched_yield", 41: "socket", 44: "sendto", 45: "recvfrom", 46: "sendmsg",
    47: "recvmsg", 202: "futex", 232: "epoll_wait", 233: "epoll_ctl", 281: "epoll_pwait",
    299: "recvmmsg", 307: "sendmmsg", 332: "statx", 441: "epoll_pwait2",
}
LINE = re.compile(r"\s*(\d+)/(\d+)\s+([\d.]+):\s+(\S+):\s+(.*)")
EAGAIN = "-11"


def name_of(rest):
    nr = int(re.match(r"NR (\d+)", rest).group(1))
    return NAMES.get(nr, f"nr{nr}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    labels = dict(reversed(a.split("=", 1)) for a in sys.argv[2:])
    calls = collections.defaultdict(lambda: collections.defaultdict(list))
    gaps = collections.defaultdict(lambda: collections.defaultdict(list))
    state = {}  # tid -> what the thread did last
    with open(sys.argv[1]) as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            pid, tid, t, event, rest = m.groups()
            t = float(t)
            s = state.setdefault(tid, {"enter": None, "call": None, "exit": None,
                                       "last": None, "cut": False})
            if event == "raw_syscalls:sys_enter":
                call = name_of(rest)
                if s["exit"] is not None and not s["cut"]:
                    gaps[pid][f"{s['last']} -> {call}"].append((t - s["exit"]) * 1e6)
                s.update(enter=t, call=call, cut=False)
            elif event == "raw_syscalls:sys_exit":
                call = name_of(rest)
                if rest.rsplit("= ", 1)[-1] == EAGAIN:
                    call += "(EAGAIN)"
                if s["enter"] is not None and s["call"] == call.split("(")[0] and not s["cut"]:
                    calls[pid][call].append((t - s["enter"]) * 1e6)
                s.update(exit=t, last=call, cut=False)
            elif event == "sched:sched_switch":
                # Off the CPU: a sleep or a preemption; what spans it is not work.
                s["cut"] = True
    for pid in sorted(calls, key=lambda p: labels.get(p, p)):
        print(f"{labels.get(pid, 'pid ' + pid)}: median us (samples)")
        rows = [("call", k, v) for k, v in calls[pid].items()]
        rows += [("user", k, v) for k, v in gaps[pid].items()]
        for kind, k, v in sorted(rows, key=lambda r: -len(r[2])):
            if len(v) >= 5:
                print(f"  {kind} {k:34s} {statistics.median(v):6.1f}  ({len(v)})")


if __name__ == "__main__":
    main()
