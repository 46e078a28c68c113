import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TwentyFieldSpec, TwentyFields, TwentyFieldType, TwentyStubOptions } from './twenty-standin';

/**
 * The workspace a real Twenty 2.21.0 was recorded on (test/fixtures/twenty-2.21/): its custom
 * object `property` / `properties` with the metadata Twenty listed for it (06-) and its 30
 * records as they were before the recorded writes (13-: two without a price), read from those
 * recordings.
 */

export const RECORDED_WORKSPACE_ID = '20202020-1c25-4d02-bf25-6aeccf7ea419';
/** The secret of the recorded webhooks (hooks/). */
export const RECORDED_WEBHOOK_SECRET = 'whsec_feasibility_0123456789abcdef';
/** The name of the API key the records were written with (their `createdBy.name`). */
export const RECORDED_API_KEY_NAME = 'listings-ssr';

/** The body of a recorded `.http` exchange (status line, headers, a blank line, then JSON), parsed. */
function recordedBody(file: string): unknown {
  const text = readFileSync(path.join(__dirname, '../test/fixtures/twenty-2.21/rest', file), 'utf8');
  const blank = /\r?\n\r?\n/.exec(text);
  if (!blank) throw new Error(`${file}: no blank line between the headers and the body`);
  return JSON.parse(text.slice(blank.index + blank[0].length));
}

/** The `properties` entry of the metadata API's object list, with its fields (06-). */
function recordedPropertyEntry(): Record<string, unknown> {
  const body = recordedBody('06-metadata-objects.http') as { data?: { objects?: Record<string, unknown>[] } };
  const entry = body.data?.objects?.find((object) => object.namePlural === 'properties');
  if (!entry || !Array.isArray(entry.fields)) throw new Error('06-metadata-objects.http: no `properties` object with its fields');
  return entry;
}

const { fields: PROPERTY_FIELDS, ...PROPERTY_OBJECT } = recordedPropertyEntry();

/** The object's entry in the metadata API, without its fields (06-, as 06b-). */
export const RECORDED_PROPERTY_OBJECT: Readonly<Record<string, unknown>> = PROPERTY_OBJECT;

/** Its fields as the metadata API listed them, in its order (06-). */
export const RECORDED_PROPERTY_FIELDS: readonly Record<string, unknown>[] = PROPERTY_FIELDS as Record<string, unknown>[];

/** The 30 records as Twenty listed them by price, ascending, before the recorded writes (13-): its order, Twenty's keys and values. */
const RECORDED_RECORDS: readonly Record<string, unknown>[] = (() => {
  const body = recordedBody('13-all-limit-200-price-asc.http') as { data?: { properties?: Record<string, unknown>[] } };
  const records = body.data?.properties;
  if (!Array.isArray(records)) throw new Error('13-all-limit-200-price-asc.http: no `data.properties` list');
  return records;
})();

/** The object's schema for the stand-in, from its recorded metadata (types, labels, options; each field's metadata as recorded). */
function recordedFields(): TwentyFields {
  const fields: TwentyFields = {};
  for (const metadata of RECORDED_PROPERTY_FIELDS) {
    const spec: TwentyFieldSpec = {
      type: metadata.type as TwentyFieldType,
      label: String(metadata.label),
      metadata: structuredClone(metadata) as Record<string, unknown>,
    };
    if (Array.isArray(metadata.options)) spec.options = structuredClone(metadata.options) as TwentyFieldSpec['options'];
    if (metadata.isSystem === false && 'defaultValue' in metadata) spec.defaultValue = metadata.defaultValue;
    fields[String(metadata.name)] = spec;
  }
  return fields;
}

export interface RecordedWorkspace extends TwentyStubOptions {
  records: Record<string, unknown>[];
  plural: 'properties';
  singular: 'property';
  fields: TwentyFields;
}

/**
 * The recorded workspace, fresh (a new copy each call): its records and the stand-in's options
 * for it (names, schema and metadata, UUID ids, the API key's name). Start the stand-in on it
 * with `startTwentyStub(workspace.records, workspace)`, adding options as needed.
 */
export function recordedWorkspace(): RecordedWorkspace {
  return {
    records: structuredClone(RECORDED_RECORDS) as Record<string, unknown>[],
    plural: 'properties',
    singular: 'property',
    fields: recordedFields(),
    objectMetadata: structuredClone(RECORDED_PROPERTY_OBJECT) as Record<string, unknown>,
    uuidIds: true,
    apiKeyName: RECORDED_API_KEY_NAME,
    workspaceId: RECORDED_WORKSPACE_ID,
  };
}
