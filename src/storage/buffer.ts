/**
 * Buffers that the operating system copies file bytes into at full speed.
 *
 * Why alignment matters: a read copies from the kernel's page cache, whose pages start on 4 KiB
 * boundaries. When the destination starts a few bytes past a page boundary, each load from the
 * source looks (by its low 12 address bits) as if it depended on a store just made to the
 * destination, and the CPU stalls on it ("4K aliasing"). glibc hands out large blocks exactly
 * 16 bytes past a page boundary, which is the worst case: on this project's test machine such
 * reads copied at 8 GiB/s against 19 GiB/s page-aligned, and cold 64 MiB reads on Deno went from
 * 0.84x to 0.95x of dd (which reads into a page-aligned buffer). Writes copy the other way and
 * do not suffer.
 * @module
 */
import { Buffer } from "node:buffer";
import { memoryAddress } from "../runtime.ts";

/** Bytes per memory page assumed for alignment (x86-64 and most arm64 kernels). */
export const PAGE_SIZE = 4096;

/**
 * A buffer of `size` bytes that is NOT zero-filled and, from one page up, starts on a page
 * boundary where the runtime can tell addresses (Bun; Deno with FFI allowed); elsewhere it is a
 * plain allocation. Meant for reads: `readFile(name, { into: alignedBuffer(n) })`, or any buffer
 * a file is read into. Its `buffer` may be up to a page larger than the view; use the view.
 * The bytes are whatever the memory held: fill them before anyone else sees them.
 */
export function alignedBuffer(size: number): Uint8Array {
  knowsAddresses ??= memoryAddress(new Uint8Array(1)) !== undefined;
  if (size < PAGE_SIZE || !knowsAddresses) return unfilled(size);
  const raw = unfilled(size + PAGE_SIZE);
  const at = memoryAddress(raw)!;
  const skip = (PAGE_SIZE - (at % PAGE_SIZE)) % PAGE_SIZE;
  return raw.subarray(skip, skip + size);
}

let knowsAddresses: boolean | undefined;

function unfilled(size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}
