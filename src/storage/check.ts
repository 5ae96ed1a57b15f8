/**
 * `tibr storage check`: probes a storage the way backup will use it (write, read, ranged read,
 * stat, list, conditional writes, delete), measures latency and throughput, and cleans up.
 *
 * The conditional-create probe writes the same name twice with `ifNoneMatch`; the second must
 * fail. Some S3-compatible servers accept the header and ignore it, and a lock on such storage
 * would let two backups run at once, so that case fails the check.
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { isStorageError } from "./errors.ts";
import type { ExternalStorage, StorageCapabilities } from "./types.ts";

/** What happened to one probe. */
export type ProbeStatus = "ok" | "fail" | "unsupported";

/** One probe's result. */
export interface ProbeResult {
  /** Probe name (`write`, `read`, `conditional create`, ...). */
  probe: string;
  /** `unsupported`: the storage does not declare the capability; not a failure. */
  status: ProbeStatus;
  /** Wall time of the probe, ms. */
  ms: number;
  /** What was measured, or why it failed. */
  detail: string;
}

/** The whole check, as printed by `--output json`. */
export interface CheckReport {
  /** The storage, credentials removed. */
  storage: string;
  /** True when no probe failed. */
  ok: boolean;
  /** Declared capabilities. */
  capabilities: StorageCapabilities;
  /** Probes in the order run. */
  probes: ProbeResult[];
  /** Median small-object latencies, ms. */
  latencyMs: { write: number; read: number };
  /** Streamed throughput of `throughputBytes`, MiB/s. */
  throughputMiBps: { write: number; read: number };
  /** Size of the throughput object, bytes. */
  throughputBytes: number;
}

/** Options of a check. */
export interface CheckOptions {
  /** Bytes of the throughput object (default 64 MiB). */
  size?: number;
  /** Small round trips for the latency median (default 5). */
  rounds?: number;
  /** Cancels the check (cleanup still runs). */
  signal?: AbortSignal;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function why(err: unknown): string {
  if (isStorageError(err)) return `${err.code}: ${err.message.split("\n")[0]}`;
  return err instanceof Error ? err.message.split("\n")[0]! : String(err);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

class ProbeFailed extends Error {}

/** Probes that need the written bytes back. */
const _READS_BACK = new Set([
  "read",
  "stat",
  "ranged read",
  "list",
  "conditional create",
  "compare-and-swap",
]);

/** Runs every probe against `storage` under a fresh `.tibr-check-*` directory, then removes it. */
export async function checkStorage(
  storage: ExternalStorage,
  opts: CheckOptions = {},
): Promise<CheckReport> {
  const size = opts.size ?? 64 << 20;
  const rounds = Math.max(1, opts.rounds ?? 5);
  const signal = opts.signal;
  const dir = `.tibr-check-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
  const caps = storage.capabilities();
  const probes: ProbeResult[] = [];
  const written = new Set<string>();
  const report: CheckReport = {
    storage: storage.uri(),
    ok: true,
    capabilities: caps,
    probes,
    latencyMs: { write: 0, read: 0 },
    throughputMiBps: { write: 0, read: 0 },
    throughputBytes: size,
  };
  let stop = false;
  // A storage that discards writes (noop://) can show only what writing costs.
  const discards = caps.discardsWrites === true;
  const probe = async (
    name: string,
    fn: () => Promise<{ detail: string; status?: ProbeStatus }>,
  ) => {
    if (stop) return;
    if (discards && _READS_BACK.has(name)) {
      probes.push({
        probe: name,
        status: "unsupported",
        ms: 0,
        detail: "the storage discards writes: nothing to read back",
      });
      return;
    }
    const t0 = performance.now();
    try {
      const r = await fn();
      probes.push({
        probe: name,
        status: r.status ?? "ok",
        ms: performance.now() - t0,
        detail: r.detail,
      });
    } catch (err) {
      probes.push({ probe: name, status: "fail", ms: performance.now() - t0, detail: why(err) });
      report.ok = false;
      // Without a working write or read, later probes would only repeat the same failure.
      if (name === "write" || name === "read") stop = true;
    }
  };
  const small = randomBytes(4096);
  const name = (n: string) => {
    const full = `${dir}/${n}`;
    written.add(full);
    return full;
  };

  try {
    await probe("write", async () => {
      const st = await storage.writeFile(name("small"), small, { signal });
      return { detail: `${st.size} bytes, version ${st.version}` };
    });
    await probe("read", async () => {
      const got = await storage.readFile(`${dir}/small`, { signal });
      if (!equal(got, small)) throw new ProbeFailed("read back different bytes than written");
      return { detail: `${got.length} bytes, same as written` };
    });
    await probe("stat", async () => {
      const st = await storage.stat(`${dir}/small`, { signal });
      if (st.size !== small.length) {
        throw new ProbeFailed(`stat size ${st.size}, wrote ${small.length}`);
      }
      return { detail: `size ${st.size}` };
    });
    await probe("ranged read", async () => {
      const r = await storage.open(`${dir}/small`, { start: 100, end: 1100, signal });
      const parts: Uint8Array[] = [];
      for await (const c of r.stream) parts.push(c);
      await r.close();
      const got = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of parts) {
        got.set(p, off);
        off += p.length;
      }
      if (!equal(got, small.subarray(100, 1100))) {
        throw new ProbeFailed(`range [100, 1100) returned ${got.length} wrong bytes`);
      }
      return {
        detail: `1000 bytes of ${r.size}${caps.rangeRead ? "" : " (whole object fetched)"}`,
      };
    });
    await probe("list", async () => {
      await storage.writeFile(name("list/b"), small.subarray(0, 10), { signal });
      await storage.writeFile(name("list/a"), small.subarray(0, 20), { signal });
      const seen: string[] = [];
      await storage.walkDir({ subDir: `${dir}/list`, signal }, (n, s) => {
        seen.push(`${n}:${s}`);
      });
      const want = [`${dir}/list/a:20`, `${dir}/list/b:10`];
      if (seen.join() !== want.join()) {
        throw new ProbeFailed(`listed [${seen.join(", ")}], expected [${want.join(", ")}]`);
      }
      return { detail: "2 objects, in order, with sizes" };
    });
    await probe("conditional create", async () => {
      if (!caps.conditionalCreate) {
        return {
          status: "unsupported",
          detail: "not declared: a backup lock on this storage cannot exclude a second run",
        };
      }
      const lock = name("check.lock");
      await storage.writeFile(lock, small.subarray(0, 16), { ifNoneMatch: "*", signal });
      try {
        await storage.writeFile(lock, small.subarray(16, 32), { ifNoneMatch: "*", signal });
      } catch (err) {
        if (isStorageError(err, "ConditionNotMatch")) {
          return { detail: "honoured: the second create-if-absent was refused" };
        }
        throw err;
      }
      throw new ProbeFailed(
        "NOT honoured: a second create-if-absent succeeded, so locks on this storage are unsafe",
      );
    });
    await probe("compare-and-swap", async () => {
      if (!caps.compareAndSwap) return { status: "unsupported", detail: "not declared" };
      const obj = name("cas");
      const v1 = await storage.writeFile(obj, small.subarray(0, 8), { signal });
      const v2 = await storage.writeFile(obj, small.subarray(8, 16), {
        ifMatch: v1.version,
        signal,
      });
      try {
        await storage.writeFile(obj, small.subarray(16, 24), { ifMatch: v1.version, signal });
      } catch (err) {
        if (isStorageError(err, "ConditionNotMatch")) {
          return {
            detail: `honoured: a stale version was refused (${v1.version} -> ${v2.version})`,
          };
        }
        throw err;
      }
      throw new ProbeFailed("NOT honoured: a write with a stale version succeeded");
    });
    await probe("latency", async () => {
      const w: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const n = name(`lat-${i}`);
        let t = performance.now();
        await storage.writeFile(n, small.subarray(0, 1024), { signal });
        w.push(performance.now() - t);
        if (discards) continue;
        t = performance.now();
        await storage.readFile(n, { signal });
        r.push(performance.now() - t);
      }
      report.latencyMs = { write: median(w), read: median(r) };
      if (discards) {
        return { detail: `1 KiB median of ${rounds}: write ${median(w).toFixed(1)} ms` };
      }
      return {
        detail: `1 KiB median of ${rounds}: write ${median(w).toFixed(1)} ms, read ${
          median(r).toFixed(1)
        } ms`,
      };
    });
    await probe("throughput", async () => {
      const obj = name("throughput");
      const chunk = randomBytes(Math.min(size, 1 << 20));
      const hash = createHash("sha256");
      let t = performance.now();
      const w = await storage.create(obj, { signal });
      try {
        for (let off = 0; off < size; off += chunk.length) {
          const part = chunk.subarray(0, Math.min(chunk.length, size - off));
          hash.update(part);
          await w.write(part);
        }
        await w.close();
      } catch (err) {
        await w.abort(err).catch(() => {});
        throw err;
      }
      const ws = (performance.now() - t) / 1000;
      const mibW = size / (1 << 20);
      if (discards) {
        report.throughputMiBps = { write: mibW / ws, read: 0 };
        return {
          detail: `${mibW.toFixed(0)} MiB streamed: write ${(mibW / ws).toFixed(1)} MiB/s`,
        };
      }
      t = performance.now();
      const r = await storage.open(obj, { signal });
      const rh = createHash("sha256");
      let n = 0;
      for await (const c of r.stream) {
        rh.update(c);
        n += c.length;
      }
      await r.close();
      const rs = (performance.now() - t) / 1000;
      if (n !== size || rh.digest("hex") !== hash.digest("hex")) {
        throw new ProbeFailed(`read back ${n} bytes that differ from the ${size} written`);
      }
      const mib = size / (1 << 20);
      report.throughputMiBps = { write: mib / ws, read: mib / rs };
      return {
        detail: `${mib.toFixed(0)} MiB streamed: write ${(mib / ws).toFixed(1)} MiB/s, read ${
          (mib / rs).toFixed(1)
        } MiB/s`,
      };
    });
    await probe("delete", async () => {
      const names = [...written];
      await storage.deleteFiles(names, { signal });
      await storage.deleteFile(`${dir}/never-written`, { signal });
      if (discards) {
        written.clear();
        return { detail: `${names.length} deletes accepted` };
      }
      const left: string[] = [];
      await storage.walkDir({ subDir: dir, signal }, (n) => {
        left.push(n);
      });
      if (left.length) throw new ProbeFailed(`${left.length} objects left after deleteFiles`);
      written.clear();
      return { detail: `${names.length} objects deleted, none listed afterwards` };
    });
  } finally {
    if (written.size) await storage.deleteFiles([...written]).catch(() => {});
  }
  return report;
}

/** The report as an aligned table for people. */
export function formatReport(report: CheckReport): string {
  const rows = report.probes.map((p) => [
    p.probe,
    p.status === "ok" ? "ok" : p.status === "fail" ? "FAILED" : "unsupported",
    `${p.ms.toFixed(1)} ms`,
    p.detail,
  ]);
  const head = ["PROBE", "RESULT", "TIME", "DETAIL"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const caps = Object.entries(report.capabilities)
    .map(([k, v]) => `${k}=${typeof v === "boolean" ? (v ? "yes" : "no") : v}`)
    .join(" ");
  const failed = report.probes.filter((p) => p.status === "fail");
  return [
    `Storage check of ${report.storage}`,
    line(head),
    ...rows.map(line),
    `Capabilities: ${caps}`,
    failed.length
      ? `Result: FAILED (${failed.map((p) => p.probe).join(", ")})`
      : `Result: OK (${report.probes.length} probes)`,
  ].join("\n");
}
