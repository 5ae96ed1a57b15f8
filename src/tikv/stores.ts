/**
 * Connections to TiKV stores, by store id: addresses come from PD, one HTTP/2 connection per
 * store is shared by every client on it, and `reset` replaces it after `Unavailable`.
 * @module
 */
import { type Client, createClient } from "@connectrpc/connect";
import { Backup } from "../gen/brpb_pb.ts";
import { ImportSST } from "../gen/import_sstpb_pb.ts";
import { Tikv } from "../gen/tikvpb_pb.ts";
import type { PdClient } from "../pd/client.ts";
import { createConnection, type RpcConnection, type TlsOptions } from "../rpc/transport.ts";

/** A store that cannot be reached (not found in PD, or no address). */
export class StoreUnreachableError extends Error {
  override name = "StoreUnreachableError";
}

/** Shares one connection per store. */
export class StoreConnections {
  #pd: PdClient;
  #tls: TlsOptions | undefined;
  #conns = new Map<bigint, RpcConnection>();
  #pending = new Map<bigint, Promise<RpcConnection>>();

  constructor(pd: PdClient, tls?: TlsOptions) {
    this.#pd = pd;
    this.#tls = tls;
  }

  async #conn(storeId: bigint): Promise<RpcConnection> {
    const have = this.#conns.get(storeId);
    if (have) return have;
    let p = this.#pending.get(storeId);
    if (!p) {
      p = (async () => {
        const store = await this.#pd.getStore(storeId);
        if (!store?.address) {
          throw new StoreUnreachableError(`store ${storeId} is not known to PD`);
        }
        const conn = createConnection(store.address, this.#tls ? { tls: this.#tls } : {});
        this.#conns.set(storeId, conn);
        return conn;
      })().finally(() => this.#pending.delete(storeId));
      this.#pending.set(storeId, p);
    }
    return await p;
  }

  /** The Backup service client of a store. */
  async backup(storeId: bigint): Promise<Client<typeof Backup>> {
    return createClient(Backup, (await this.#conn(storeId)).transport);
  }

  /** The Tikv service client of a store. */
  async tikv(storeId: bigint): Promise<Client<typeof Tikv>> {
    return createClient(Tikv, (await this.#conn(storeId)).transport);
  }

  /** The ImportSST service client of a store. */
  async importSst(storeId: bigint): Promise<Client<typeof ImportSST>> {
    return createClient(ImportSST, (await this.#conn(storeId)).transport);
  }

  /** Drops the store's connection (its address is looked up again: stores may move). */
  reset(storeId: bigint): void {
    this.#conns.get(storeId)?.close();
    this.#conns.delete(storeId);
  }

  /** Closes every connection. */
  close(): void {
    for (const c of this.#conns.values()) c.close();
    this.#conns.clear();
  }
}
