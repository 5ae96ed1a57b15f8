/**
 * Who holds a checkpoint lock, precisely enough to tell that the holder is a process of this
 * machine that is gone: after `kill -9` or a crash, a rerun on the same host takes the lock over
 * at once instead of waiting out its TTL. The identity is the host's boot id and PID namespace
 * (so a container with the same hostname does not match) plus the pid and the process's start
 * time (so a reused pid does not match either). Without `/proc` there is no identity and locks
 * are only taken over once expired.
 * @module
 */
import { createHash } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import process from "node:process";

/** A process that holds a lock. */
export interface LockProcess {
  /** Digest of the boot id and PID namespace. */
  hostId: string;
  pid: number;
  /** Start time in clock ticks since boot (`/proc/<pid>/stat` field 22). */
  start: string;
}

function hostId(): string | undefined {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const ns = readlinkSync("/proc/self/ns/pid");
    return createHash("sha256").update(`${boot} ${ns}`).digest("hex").slice(0, 32);
  } catch {
    return undefined;
  }
}

/** State and start time of a process, from `/proc/<pid>/stat`; undefined when it is gone. */
function procStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0] ?? "", start: rest[19] ?? "" };
}

let self: LockProcess | null | undefined;

/** This process, or undefined where `/proc` is unavailable. */
export function thisProcess(): LockProcess | undefined {
  if (self === undefined) {
    const host = hostId();
    const stat = procStat(process.pid);
    self = host && stat ? { hostId: host, pid: process.pid, start: stat.start } : null;
  }
  return self ?? undefined;
}

/**
 * True only when `holder` certainly is a process of this host (same boot, same PID namespace)
 * that no longer runs: no such pid, a zombie, or a different process under a reused pid.
 */
export function isGoneHere(holder: LockProcess | undefined): boolean {
  const me = thisProcess();
  if (!holder || !me || holder.hostId !== me.hostId || holder.pid === me.pid) return false;
  const stat = procStat(holder.pid);
  return stat === undefined || stat.state === "Z" || stat.state === "X" ||
    stat.start !== holder.start;
}
