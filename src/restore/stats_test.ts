import assert from "node:assert/strict";
import { test } from "node:test";
import type { SelectedTable } from "./plan.ts";
import { statsJsonFor } from "./stats.ts";

const ci = (s: string) => ({ O: s, L: s.toLowerCase() });

function selected(partitions: [number, string][] = []): SelectedTable {
  return {
    db: { id: 1, db_name: ci("Shop") },
    table: {
      id: 10,
      name: ci("Events"),
      partition: partitions.length === 0 ? null : {
        definitions: partitions.map(([id, name]) => ({ id, name: ci(name) })),
      },
    },
  } as unknown as SelectedTable;
}

test("a table's own block becomes the JSONTable LOAD STATS gets, named after the table", () => {
  const json = statsJsonFor(selected(), [
    { physicalId: 10n, json: { count: 5, database_name: "old", table_name: "old" } },
  ]);
  assert.deepEqual(json, { count: 5, database_name: "Shop", table_name: "Events" });
  assert.equal(statsJsonFor(selected(), []), undefined);
  assert.equal(statsJsonFor(selected(), [{ physicalId: 99n, json: {} }]), undefined);
});

test("a partitioned table's blocks go under the partitions' names and `global`", () => {
  const json = statsJsonFor(selected([[11, "P0"], [12, "p1"]]), [
    { physicalId: 11n, json: { count: 1 } },
    { physicalId: 12n, json: { count: 2 } },
    { physicalId: 10n, json: { count: 3 } },
    { physicalId: 13n, json: { count: 4 } },
  ])!;
  assert.equal(json.database_name, "Shop");
  assert.equal(json.table_name, "Events");
  assert.deepEqual(Object.keys(json.partitions as object).sort(), ["global", "p0", "p1"]);
  assert.deepEqual((json.partitions as Record<string, { count: number }>).global!.count, 3);
  assert.deepEqual((json.partitions as Record<string, { count: number }>).p0!.count, 1);
});
