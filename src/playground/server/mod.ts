/**
 * The playground's servers: a simulated TiKV cluster (PD, stores with the Tikv and Backup
 * services, an admin and fault API) over one in-process `Cluster`. See docs/PLAYGROUND.md.
 *
 * ```ts
 * import { startPlayground } from "./src/playground/server/mod.ts";
 * const pg = await startPlayground({ data: "empty" });
 * console.log(pg.pdAddress, pg.adminUrl); // give pdAddress to `tibr backup -u`
 * await pg.admin.stopStore(1n);           // the same as POST {adminUrl}/stores/1/stop
 * await pg.stop();
 * ```
 * @module
 */
export { type Playground, type PlaygroundOptions, startPlayground } from "./playground.ts";
export {
  AdminError,
  type AdminServer,
  type ChecksumView,
  PlaygroundAdmin,
  type PlaygroundHost,
  type RegionView,
  startAdminServer,
  STORAGE_FAULT_MESSAGES,
} from "./admin.ts";
export { ServerStats } from "./_flow.ts";
export { PdLeadership, type PdMemberInfo, pdService, type PdServiceOptions } from "./pd.ts";
export { tikvService } from "./tikv.ts";
export { backupService, type BackupServiceOptions } from "./backup.ts";
export { handleCoprocessor, REQ_TYPE_CHECKSUM } from "./coprocessor.ts";
export {
  type DownloadFault,
  IMPORT_MODE_TIMEOUT_MS,
  type ImportOptions,
  importService,
  ImportState,
  type ImportStats,
} from "./import.ts";
export {
  DEFAULT_SCHEDULERS,
  defaultScheduleConfig,
  type Operator,
  PdScheduling,
  type SchedulingOptions,
} from "./scheduling.ts";
export { PD_VERSION, pdHttpHandler } from "./pd_http.ts";
export { etcdKvService, EtcdStore, TIDB_TOPOLOGY_PATH } from "./etcd.ts";
export { startTidbServer, type TidbServer, type TidbServerOptions } from "../tidb/server.ts";
