import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Twenty CRM's REST API as a real Twenty 2.21.0 answers it (recorded in
 * test/fixtures/twenty-2.21/, replayed against the stand-in by
 * test/contract/twenty-standin-contract.test.ts): the records of one object (and optionally more,
 * e.g. `companies`), the metadata API, writes and their webhooks, Twenty's errors, cursors, limits
 * and rate limit, and 2.21's bug of never paging past a null sort value.
 */

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** `2.21`: as recorded, with its null-cursor bug; `latest`: later Twenty (PR #24354), nulls paged in their place. */
export type TwentyVersion = '2.21' | 'latest';

export type TwentyFieldType =
  | 'UUID'
  | 'TEXT'
  | 'NUMBER'
  | 'NUMERIC'
  | 'BOOLEAN'
  | 'DATE_TIME'
  | 'DATE'
  | 'SELECT'
  | 'MULTI_SELECT'
  | 'RATING'
  | 'CURRENCY'
  | 'ADDRESS'
  | 'LINKS'
  | 'EMAILS'
  | 'PHONES'
  | 'FULL_NAME'
  | 'RICH_TEXT'
  | 'RICH_TEXT_V2'
  | 'ACTOR'
  | 'POSITION'
  | 'TS_VECTOR'
  | 'RAW_JSON'
  | 'ARRAY'
  | 'FILES'
  | 'RELATION'
  | 'MORPH_RELATION';

export interface TwentySelectOption {
  value: string;
  label: string;
  color?: string;
  position?: number;
  id?: string;
}

export interface TwentyFieldSpec {
  type: TwentyFieldType;
  label?: string;
  /** SELECT and MULTI_SELECT options (a filter's value must be one of them). */
  options?: TwentySelectOption[];
  /** What a created record gets when the body leaves the field out (else the type's empty value). */
  defaultValue?: unknown;
  /** The field's whole entry as the metadata API lists it (a recorded workspace); generated when absent. */
  metadata?: Record<string, unknown>;
}

/**
 * An object's fields in order: name -> type (or spec). id, createdAt, createdBy, deletedAt,
 * position, updatedAt, updatedBy and searchVector are added when absent. Composite types
 * (CURRENCY, ADDRESS, LINKS, RICH_TEXT, ...) are sorted and filtered by subfield.
 */
export type TwentyFields = Record<string, TwentyFieldType | TwentyFieldSpec>;

/** Another record object served beside the listing object (e.g. `companies`). */
export interface TwentyObjectSpec {
  plural: string;
  singular: string;
  fields: TwentyFields;
  records: Record<string, unknown>[];
  /** Its metadata API entry without `fields`; absent: Twenty's standard object of that plural, else generated. */
  metadata?: Record<string, unknown>;
}

export interface TwentyStubOptions {
  /** The listing object's REST name and Twenty's own singular (`properties` / `property`); default `listings` / `listing`. */
  plural?: string;
  singular?: string;
  /** Default `2.21`. */
  version?: TwentyVersion;
  /** The listing object's schema; default today's (DEFAULT_LISTING_FIELDS: `address` ADDRESS, `price` CURRENCY, `description` RICH_TEXT, ...). */
  fields?: TwentyFields;
  /** The listing object's metadata API entry without `fields` (a recorded workspace); default generated. */
  objectMetadata?: Record<string, unknown>;
  /** More record objects (e.g. `companies`); each replaces the standard object of its plural in the metadata API. */
  otherObjects?: TwentyObjectSpec[];
  /** How many of Twenty 2.21's 28 standard objects (message threads, companies, people, ...) the metadata API lists beside the listing object; default all. */
  standardObjects?: number;
  /** The metadata API's page size when no `limit` is asked (Twenty: 60 objects); a smaller one makes a client page. */
  metadataPageSize?: number;
  /** Twenty clamps `limit` to this (2.21: 200; older versions 60). */
  maxLimit?: number;
  /** Ids are UUIDs: a malformed one is a 400 "'x' is not a valid UUID". Default: when every record given at start has a UUID id. */
  uuidIds?: boolean;
  /** The only bearer accepted (another: 401 "Token invalid."); absent: any bearer. No bearer at all is always a 403. */
  apiKey?: string;
  /** The API key's name, in `createdBy` / `updatedBy` of API writes; default `listings-ssr` (the recording's). */
  apiKeyName?: string;
  /**
   * Twenty's token buckets for API-key record queries, per workspace: `perSecond` tokens a
   * 1000 ms window, `perMinute` a 60000 ms window (Twenty's defaults: 100 and 100). A bucket
   * refills by whole tokens counted from the last query it admitted (100 a minute: one token
   * 600 ms after it). Over it: 429 "Limit reached (N tokens per W ms)", no Retry-After. Absent:
   * no limit. The metadata API and webhook registration are not counted.
   */
  rateLimit?: { perSecond?: number; perMinute?: number };
  /** Webhooks registered from the start, as `POST /rest/webhooks` registers them. */
  webhooks?: { targetUrl: string; operations?: string[]; secret?: string; description?: string; id?: string }[];
  /** OUTBOUND_HTTP_SAFE_MODE_ENABLED: a webhook to a loopback or private address is silently not sent. Default false. */
  webhookSafeMode?: boolean;
  /** The clock (ms since the epoch) of timestamps and of the rate limit; default Date.now. */
  clock?: () => number;
  workspaceId?: string;
}

export interface TwentyAnswer {
  status: number;
  body?: unknown;
  delayMs?: number;
  headers?: Record<string, string>;
}

export interface TwentyRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization?: string;
  /** The raw request body (writes). */
  body?: string;
}

export interface TwentyWebhook {
  id: string;
  targetUrl: string;
  operations: string[];
  description: string | null;
  secret: string | null;
  workspaceId: string;
  applicationId: string;
  createdAt: string;
  updatedAt: string;
  deletedAt: null;
}

/** One webhook delivery the stand-in made (or, in safe mode, did not make). */
export interface TwentyDelivery {
  webhookId: string;
  targetUrl: string;
  eventName: string;
  /** The request's headers, in the order sent. */
  headers: [string, string][];
  /** The body exactly as sent (what the signature covers). */
  body: string;
  /** The target's status; absent when it could not be reached (`error`) or was not sent (`skipped`). */
  status?: number;
  error?: string;
  skipped?: string;
}

export interface TwentyStub {
  url: string;
  requests: TwentyRequest[];
  /** Replaces how the stub answers; default: Twenty's answers over its records (`body`: the raw request body). */
  respond: (req: IncomingMessage, path: string, query: URLSearchParams, body?: string) => TwentyAnswer;
  /** The listing object's records (tests may change them, as a CRM user would: without a webhook). */
  records: Record<string, unknown>[];
  /** Registered webhooks (POST /rest/webhooks adds to them). */
  webhooks: TwentyWebhook[];
  /** Webhook deliveries, in the order they completed (once each, never retried). */
  deliveries: TwentyDelivery[];
  /** Resolves with the deliveries once there are at least `count` (default: one more than now); rejects after `timeoutMs` (5 s). */
  waitForDeliveries(count?: number, timeoutMs?: number): Promise<TwentyDelivery[]>;
  /** OUTBOUND_HTTP_SAFE_MODE_ENABLED, changeable while running. */
  webhookSafeMode: boolean;
  /** Adds a field to the listing object as the metadata API does: records get its empty value, `metadata.*` webhooks are sent. Returns its metadata. */
  addField(name: string, spec: TwentyFieldType | TwentyFieldSpec): Record<string, unknown>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Twenty's schema: composite types, system fields, standard objects
// ---------------------------------------------------------------------------------------------

const COMPOSITE_SUBFIELDS: Partial<Record<TwentyFieldType, readonly string[]>> = {
  CURRENCY: ['amountMicros', 'currencyCode'],
  ADDRESS: ['addressStreet1', 'addressStreet2', 'addressCity', 'addressPostcode', 'addressState', 'addressCountry', 'addressLat', 'addressLng'],
  LINKS: ['primaryLinkLabel', 'primaryLinkUrl', 'secondaryLinks'],
  EMAILS: ['primaryEmail', 'additionalEmails'],
  PHONES: ['primaryPhoneNumber', 'primaryPhoneCountryCode', 'primaryPhoneCallingCode', 'additionalPhones'],
  FULL_NAME: ['firstName', 'lastName'],
  RICH_TEXT: ['blocknote', 'markdown'],
  RICH_TEXT_V2: ['blocknote', 'markdown'],
  ACTOR: ['source', 'workspaceMemberId', 'name', 'context'],
};
const NUMERIC_SUBFIELDS = new Set(['amountMicros', 'addressLat', 'addressLng']);
const RELATIONS = new Set<TwentyFieldType>(['RELATION', 'MORPH_RELATION']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const DEFAULT_WORKSPACE_ID = '20202020-1c25-4d02-bf25-6aeccf7ea419';
/** The application of a workspace's own objects, fields and webhooks, and that of Twenty's standard ones (as recorded). */
const CUSTOM_APPLICATION_ID = 'a110c29d-5543-4567-9ece-1f2ba1f02b5d';
const STANDARD_APPLICATION_ID = 'a98dd434-3080-447f-8391-bf9c9e48102c';
const DEFAULT_OBJECT_ID = '7c1e0a3e-1f5d-4a39-9c1e-5b2a7f0c9d11';
const STANDARD_CREATED_AT = '2026-12-06T14:43:44.468Z';
const AXIOS_USER_AGENT = 'axios/1.17.0';

/** Name, type, label and description of the fields Twenty gives every object. */
const SYSTEM_FIELDS: readonly [string, TwentyFieldType, string, string][] = [
  ['id', 'UUID', 'Id', 'Id'],
  ['createdAt', 'DATE_TIME', 'Creation date', 'Creation date'],
  ['createdBy', 'ACTOR', 'Created by', 'The creator of the record'],
  ['deletedAt', 'DATE_TIME', 'Deleted at', 'Deletion date'],
  ['position', 'POSITION', 'Position', 'Position'],
  ['updatedAt', 'DATE_TIME', 'Last update', 'Last time the record was changed'],
  ['updatedBy', 'ACTOR', 'Updated by', 'The workspace member who last updated the record'],
  ['searchVector', 'TS_VECTOR', 'Search vector', 'Search vector'],
];
const SYSTEM_NAMES = new Set(SYSTEM_FIELDS.map(([name]) => name));
/** Fields the server fills: a write's body cannot set them (id only on create). */
const SERVER_FILLED = new Set(['createdAt', 'updatedAt', 'deletedAt', 'createdBy', 'updatedBy', 'searchVector']);

/** Today's listing object: what every caller of the stand-in before the recorded workspace expects. */
export const DEFAULT_LISTING_FIELDS: TwentyFields = {
  name: { type: 'TEXT', label: 'Name' },
  description: { type: 'RICH_TEXT', label: 'Description' },
  price: { type: 'CURRENCY', label: 'Price' },
  address: { type: 'ADDRESS', label: 'Address' },
  propertyType: {
    type: 'SELECT',
    label: 'Property type',
    options: [
      { value: 'APARTMENT', label: 'Apartment', color: 'blue' },
      { value: 'HOUSE', label: 'House', color: 'green' },
    ],
  },
  features: {
    type: 'MULTI_SELECT',
    label: 'Features',
    options: [
      { value: 'BALCONY', label: 'Balcony', color: 'red' },
      { value: 'SEA_VIEW', label: 'Ocean view', color: 'sky' },
    ],
  },
  bedrooms: { type: 'NUMBER', label: 'Bedrooms' },
  bathrooms: { type: 'NUMBER', label: 'Bathrooms' },
  areaSqm: { type: 'NUMBER', label: 'Area (sqm)' },
  photos: { type: 'LINKS', label: 'Photos' },
  featured: { type: 'BOOLEAN', label: 'Featured', defaultValue: false },
};

/**
 * Twenty 2.21's standard objects as its metadata API listed them in the recorded workspace
 * (06-metadata-objects): id, universal identifier, singular, plural, labels, description, icon,
 * isSystem, isSearchable, isUICreatable, shortcut, duplicate criteria, the label identifier
 * field (name, id), the image identifier field, and the fields as `name:TYPE`.
 */
type StandardObjectRow = [
  id: string,
  universalIdentifier: string,
  singular: string,
  plural: string,
  labelSingular: string,
  labelPlural: string,
  description: string,
  icon: string,
  isSystem: boolean,
  isSearchable: boolean,
  isUICreatable: boolean,
  shortcut: string | null,
  duplicateCriteria: string[][] | null,
  labelField: string,
  labelFieldId: string,
  imageField: [string, string] | null,
  fields: string,
];
// prettier-ignore
const STANDARD_OBJECTS: readonly StandardObjectRow[] = [
  ["f8a6ad0d-a836-4cc7-815e-fdd292db7deb","20202020-849a-4c3e-84f5-a25a7d802271","messageThread","messageThreads","Message Thread","Message Threads","Message Thread","IconMessage",true,false,false,null,null,"subject","e400db32-d46c-44d1-929e-07e4e726fbc7",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR subject:TEXT messages:RELATION messageChannelMessageAssociations:RELATION"],
  ["f25a224b-01a9-43b4-a47c-507f6bd52ea2","238acb94-dd4c-4036-bc55-19b99d821efd","messageCampaign","messageCampaigns","Campaign","Campaigns","A bulk email send to an audience, with delivery stats","IconSend",true,false,false,null,null,"subject","31811478-fa7c-46cd-a87a-ea0a9864d1df",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR subject:TEXT bodyTemplate:TEXT fromAddress:EMAILS status:SELECT sentAt:DATE_TIME sentCount:NUMBER failedCount:NUMBER bouncedCount:NUMBER complainedCount:NUMBER unsubscribeTopicId:UUID list:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"listId\"}} timelineActivities:RELATION messages:RELATION recipients:RELATION"],
  ["eb7e419c-4bc3-4d9c-a888-ae6cb1b553e4","20202020-b374-4779-a561-80086cb2e17f","company","companies","Company","Companies","A company","IconBuildingSkyscraper",false,true,true,"C",[["name"],["domainNamePrimaryLinkUrl"]],"name","cd409139-9aa9-4fb6-b6d1-f50d831c8cef",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME name:TEXT domainName:LINKS:{\"settings\":{\"maxNumberOfValues\":1}} address:ADDRESS linkedinLink:LINKS annualRevenue:CURRENCY position:POSITION createdBy:ACTOR updatedBy:ACTOR searchVector:TS_VECTOR attachments:RELATION people:RELATION accountOwner:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"accountOwnerId\"}} taskTargets:RELATION noteTargets:RELATION opportunities:RELATION timelineActivities:RELATION"],
  ["e1248526-dd75-4d98-925a-a7092499a3c6","20202020-0408-4f38-b8a8-4d5e3e26e24d","blocklist","blocklists","Blocklist","Blocklists","Blocklist","IconForbid2",true,false,false,null,null,"handle","5a21283a-4c8e-47c0-9061-eba35d8043d1",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR handle:TEXT workspaceMember:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"workspaceMemberId\"}}"],
  ["dc927e37-17d5-4782-a09e-a29007839af5","20202020-491b-4aaa-9825-afd1bae6ae00","calendarChannelEventAssociation","calendarChannelEventAssociations","Calendar Channel Event Association","Calendar Channel Event Associations","Calendar Channel Event Associations","IconCalendar",true,false,false,null,null,"id","68f989e3-bc32-47d2-86d5-63ba27282d13",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR eventExternalId:TEXT recurringEventExternalId:TEXT calendarChannelId:UUID calendarEvent:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"calendarEventId\"}}"],
  ["d3cd2b9b-34a4-440a-aa0e-4a2e79f1f729","20202020-ad1e-4127-bccb-d83ae04d2ccb","messageChannelMessageAssociation","messageChannelMessageAssociations","Message Channel Message Association","Message Channel Message Associations","Message Synced with a Message Channel","IconMessage",true,false,false,null,null,"id","693d78dd-25d3-434f-b69c-73112240ec39",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR messageExternalId:TEXT messageThreadExternalId:TEXT direction:SELECT messageChannelId:UUID message:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"messageId\"}} messageThread:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"messageThreadId\"}} messageFolders:RELATION"],
  ["d2d3685f-bc88-4ae0-9b09-eedc0033dc3d","826561ea-4816-411c-baa0-eec5e6ca8866","messageList","messageLists","List","Lists","A hand-picked audience of people","IconUsersGroup",true,true,true,null,null,"name","9591e236-7d7e-48d1-927b-cfcc0aa50f7a",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION name:TEXT searchVector:TS_VECTOR campaigns:RELATION members:RELATION:{\"settings\":{\"relationType\":\"ONE_TO_MANY\",\"junctionTargetFieldId\":\"96b8a772-e0b6-45ea-ad00-e89c90b2eec5\"}} timelineActivities:RELATION"],
  ["c35c68bd-0709-4db4-8fae-5413925b913d","20202020-a433-4456-aa2d-fd9cb26b774a","messageParticipant","messageParticipants","Message Participant","Message Participants","Message Participants","IconUserCircle",true,false,false,null,null,"handle","be9accae-ac5c-4b6c-9f82-8a219c10b0ac",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR role:SELECT handle:TEXT displayName:TEXT messageCampaign:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"messageCampaignId\"}} message:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"messageId\"}} person:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"personId\"}} workspaceMember:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"workspaceMemberId\"}}"],
  ["c27a7b1c-9c8a-4162-b23c-046aba3f640c","20202020-e674-48e5-a542-72570eee7213","person","people","Person","People","A person","IconUser",false,true,true,"P",[["nameFirstName","nameLastName"],["linkedinLinkPrimaryLinkUrl"],["emailsPrimaryEmail"]],"name","1139cf1c-3c5e-4000-b144-16693af33cdb",["avatarUrl","a94f2240-415c-498e-80f9-28193ec97176"],"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME name:FULL_NAME emails:EMAILS linkedinLink:LINKS jobTitle:TEXT phones:PHONES avatarUrl:TEXT avatarFile:FILES position:POSITION createdBy:ACTOR updatedBy:ACTOR searchVector:TS_VECTOR attachments:RELATION calendarEventParticipants:RELATION company:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"companyId\"}} listMemberships:RELATION:{\"settings\":{\"relationType\":\"ONE_TO_MANY\",\"junctionTargetFieldId\":\"dd395d13-39be-49cb-a79d-e5ff568482cd\"}} messageParticipants:RELATION noteTargets:RELATION pointOfContactForOpportunities:RELATION taskTargets:RELATION timelineActivities:RELATION"],
  ["be95f0e6-0f2a-45b2-acf7-4ce165ffb37d","20202020-0b00-45cd-b6f6-6cd806fc6804","note","notes","Note","Notes","A note","IconNotes",false,true,true,"N",null,"title","9b3a702e-e15f-4dc5-aa7b-90f188f4c5f8",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME position:POSITION title:TEXT bodyV2:RICH_TEXT createdBy:ACTOR updatedBy:ACTOR searchVector:TS_VECTOR attachments:RELATION noteTargets:RELATION timelineActivities:RELATION"],
  ["b169938d-0198-4fb1-847f-cccb5584e31c","20202020-4e28-4e95-a9d7-6c00874f843c","workflowRun","workflowRuns","Workflow Run","Workflow Runs","A workflow run","IconHistoryToggle",true,false,false,null,null,"name","9758b7c2-ae6b-40de-b4b4-24c425d0ca10",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME name:TEXT enqueuedAt:DATE_TIME:{\"settings\":null} startedAt:DATE_TIME:{\"settings\":null} endedAt:DATE_TIME:{\"settings\":null} status:SELECT createdBy:ACTOR updatedBy:ACTOR state:RAW_JSON stepLogs:RAW_JSON position:POSITION searchVector:TS_VECTOR timelineActivities:RELATION workflow:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"workflowId\"}} workflowVersion:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"workflowVersionId\"}}"],
  ["999fda77-ef02-439f-925b-3ce696a7b398","20202020-9549-49dd-b2b2-883999db8938","opportunity","opportunities","Opportunity","Opportunities","An opportunity","IconTargetArrow",false,true,true,"O",null,"name","8d516d8e-51c5-4b03-be46-cba8c76dcd9c",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME name:TEXT amount:CURRENCY closeDate:DATE_TIME:{\"settings\":null} stage:SELECT position:POSITION createdBy:ACTOR updatedBy:ACTOR searchVector:TS_VECTOR attachments:RELATION company:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"companyId\"}} noteTargets:RELATION pointOfContact:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"pointOfContactId\"}} taskTargets:RELATION timelineActivities:RELATION owner:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"ownerId\"}}"],
  ["954b6791-c2eb-4a96-b6ba-ed8a630e0c2a","20202020-a1b0-40b0-8ab0-5b6c7d8e9f0a","messageChannelMessageAssociationMessageFolder","messageChannelMessageAssociationMessageFolders","Message Channel Message Association Message Folder","Message Channel Message Association Message Folders","Join table linking message channel message associations to message folders","IconFolder",true,false,false,null,null,"id","fcff17ab-3207-4769-9a1d-6d73b14de4e6",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR messageFolderId:UUID messageChannelMessageAssociation:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"messageChannelMessageAssociationId\"}}"],
  ["8a590291-5fae-4d26-9372-c0d42e813c8e","20202020-3319-4234-a34c-7f3b9d2e4d1f","workflowAutomatedTrigger","workflowAutomatedTriggers","Workflow Automated Trigger","Workflow Automated Triggers","A workflow automated trigger","IconSettingsAutomation",true,false,false,null,null,"id","8ecf0e9c-e06e-44bf-902a-3eadd0bf092d",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR type:SELECT settings:RAW_JSON workflow:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"workflowId\"}}"],
  ["888aaa6d-460b-4894-b5c5-5013dd5be3d1","20202020-3319-4234-a34c-82d5c0e881a6","workspaceMember","workspaceMembers","Workspace Member","Workspace Members","A workspace member","IconUserCircle",true,true,false,null,null,"name","25539e51-19c7-4606-a107-1acbc864e6b9",["avatarUrl","ede95e33-9911-4469-a986-d1651ab36258"],"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME position:POSITION name:FULL_NAME colorScheme:TEXT:{\"defaultValue\":\"'System'\"} locale:TEXT:{\"defaultValue\":\"'en'\"} avatarUrl:TEXT userEmail:TEXT jobTitle:TEXT calendarStartDay:NUMBER:{\"defaultValue\":7,\"settings\":{\"dataType\":\"int\"}} userId:UUID timeZone:TEXT:{\"defaultValue\":\"'system'\"} dateFormat:SELECT timeFormat:SELECT numberFormat:SELECT searchVector:TS_VECTOR createdBy:ACTOR updatedBy:ACTOR blocklist:RELATION calendarEventParticipants:RELATION accountOwnerForCompanies:RELATION messageParticipants:RELATION ownedOpportunities:RELATION assignedTasks:RELATION timelineActivities:RELATION"],
  ["69ee1981-830b-437e-bffa-458bf3ef4f93","20202020-1ba1-48ba-bc83-ef7e5990ed10","task","tasks","Task","Tasks","A task","IconCheckbox",false,true,true,"T",null,"title","9c0fa515-c7b7-4a01-a700-acca70e09ff3",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME position:POSITION title:TEXT bodyV2:RICH_TEXT dueAt:DATE_TIME:{\"settings\":null} status:SELECT createdBy:ACTOR updatedBy:ACTOR searchVector:TS_VECTOR attachments:RELATION taskTargets:RELATION assignee:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"assigneeId\"}} timelineActivities:RELATION"],
  ["5761305a-54fc-4a96-8383-d4224dbc4ffa","20202020-bd3d-4c60-8dca-571c71d4447a","attachment","attachments","Attachment","Attachments","An attachment","IconFileImport",true,false,false,null,null,"name","5ecb0216-f1ff-4896-9a38-4cf0e534f504",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME name:TEXT file:FILES fullPath:TEXT fileCategory:SELECT createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR targetTask:MORPH_RELATION:{\"morphId\":\"20202020-f634-435d-ab8d-e1168b375c69\"} targetNote:MORPH_RELATION:{\"morphId\":\"20202020-f634-435d-ab8d-e1168b375c69\"} targetPerson:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetPersonId\"},\"morphId\":\"20202020-f634-435d-ab8d-e1168b375c69\"} targetCompany:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetCompanyId\"},\"morphId\":\"20202020-f634-435d-ab8d-e1168b375c69\"} targetOpportunity:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetOpportunityId\"},\"morphId\":\"20202020-f634-435d-ab8d-e1168b375c69\"} targetDashboard:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetDashboardId\"},\"morphId\":\"20202020-f634-435d-ab8d-e1168b375c69\"} targetWorkflow:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetWorkflowId\"},\"morphId\":\"20202020-f634-435d-ab8d-e1168b375c69\"} targetProperty:MORPH_RELATION:{\"morphId\":\"20202020-f634-435d-ab8d-e1168b375c69\"}"],
  ["387a1415-93bf-47de-b8a8-1dbe9396afb9","27773d24-8ce3-40f8-aa6c-1f590f2c08d2","messageListMember","messageListMembers","List Member","List Members","A person's membership in a list","IconUser",true,false,true,null,null,"id","d97264ee-29e4-43b4-8fa4-36c713d4f2f9",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR list:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"listId\"}} person:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"personId\"}}"],
  ["33c5b2fe-55e6-4787-b7d4-130db61b8c29","20202020-3840-4b6d-9425-0c5188b05ca8","dashboard","dashboards","Dashboard","Dashboards","A dashboard","IconLayoutDashboard",false,true,true,"D",null,"title","820d1d26-b217-497c-9127-53689a6e8256",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME title:TEXT position:POSITION pageLayoutId:UUID createdBy:ACTOR updatedBy:ACTOR searchVector:TS_VECTOR attachments:RELATION timelineActivities:RELATION"],
  ["337366d2-d94e-4628-8c85-0a43d6f7266f","20202020-d65d-4ab9-9344-d77bfb376a3d","workflowVersion","workflowVersions","Workflow Version","Workflow Versions","A workflow version","IconVersions",true,false,false,null,null,"name","1a34e67a-9689-44d0-a6fe-27c75665396c",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR name:TEXT trigger:RAW_JSON steps:RAW_JSON status:SELECT position:POSITION searchVector:TS_VECTOR timelineActivities:RELATION workflow:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"workflowId\"}} runs:RELATION"],
  ["2cbf4ca9-9217-42e7-b306-b3e54ca873e7","20202020-6736-4337-b5c4-8b39fae325a5","timelineActivity","timelineActivities","Timeline Activity","Timeline Activities","Aggregated / filtered event to be displayed on the timeline","IconTimelineEvent",true,false,false,null,null,"name","5c9f5ba3-d282-4396-9c46-8fb74e65137a",null,"properties:RAW_JSON id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION happensAt:DATE_TIME:{\"defaultValue\":\"now\",\"settings\":null} name:TEXT linkedRecordCachedName:TEXT linkedRecordId:UUID linkedObjectMetadataId:UUID searchVector:TS_VECTOR targetCompany:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetCompanyId\"},\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetDashboard:MORPH_RELATION:{\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetMessageCampaign:MORPH_RELATION:{\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetMessageList:MORPH_RELATION:{\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetNote:MORPH_RELATION:{\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetOpportunity:MORPH_RELATION:{\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetPerson:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetPersonId\"},\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetTask:MORPH_RELATION:{\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} workspaceMember:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"workspaceMemberId\"}} targetWorkflow:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetWorkflowId\"},\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetWorkflowVersion:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetWorkflowVersionId\"},\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetWorkflowRun:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetWorkflowRunId\"},\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"} targetProperty:MORPH_RELATION:{\"morphId\":\"20202020-9a2b-4c3d-a4e5-f6a7b8c9d0e1\"}"],
  ["25e65a34-2251-431d-b561-98739f55e815","ce19efb9-710f-45b2-b141-473abbeea60b","callRecording","callRecordings","Call Recording","Call Recordings","A recording of a meeting","IconVideo",true,false,false,null,null,"title","158afcde-7cdb-43b0-8e4a-4f487494a186",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME title:TEXT status:SELECT recordingRequestStatus:SELECT applicationId:UUID externalBotId:TEXT externalRecordingId:TEXT startedAt:DATE_TIME:{\"settings\":null} endedAt:DATE_TIME:{\"settings\":null} video:FILES audio:FILES transcript:RAW_JSON summary:RICH_TEXT createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR calendarEvent:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"calendarEventId\"}}"],
  ["1e40f6be-5ae7-4372-a7cc-70d2917a5e60","20202020-5a9a-44e8-95df-771cd06d0fb1","taskTarget","taskTargets","Task Target","Task Targets","A task target","IconCheckbox",true,false,false,null,null,"id","b75fe09d-31c9-492c-8211-fc2d5de441dc",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR targetCompany:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetCompanyId\"},\"morphId\":\"20202020-f636-435d-ab8d-e1168b375c71\"} targetOpportunity:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetOpportunityId\"},\"morphId\":\"20202020-f636-435d-ab8d-e1168b375c71\"} targetPerson:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetPersonId\"},\"morphId\":\"20202020-f636-435d-ab8d-e1168b375c71\"} task:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"taskId\"}} targetProperty:MORPH_RELATION:{\"morphId\":\"20202020-f636-435d-ab8d-e1168b375c71\"}"],
  ["1954ed78-80c5-4502-84a1-4c52e84c5cd6","20202020-a1c3-47a6-9732-27e5b1e8436d","calendarEventParticipant","calendarEventParticipants","Calendar event participant","Calendar event participants","Calendar event participants","IconCalendar",true,false,false,null,null,"handle","214f9a12-aa61-4f71-9d44-188aeffc8f06",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR handle:TEXT displayName:TEXT isOrganizer:BOOLEAN responseStatus:SELECT calendarEvent:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"calendarEventId\"}} person:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"personId\"}} workspaceMember:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"workspaceMemberId\"}}"],
  ["119932dc-0ae5-486a-8212-411e9076595e","20202020-fff0-4b44-be82-bda313884400","noteTarget","noteTargets","Note Target","Note Targets","A note target","IconCheckbox",true,false,false,null,null,"id","7a1c8da3-b79a-4fff-b47b-7b9387006715",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR targetCompany:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetCompanyId\"},\"morphId\":\"20202020-f635-435d-ab8d-e1168b375c70\"} note:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"noteId\"}} targetPerson:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetPersonId\"},\"morphId\":\"20202020-f635-435d-ab8d-e1168b375c70\"} targetOpportunity:MORPH_RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"targetOpportunityId\"},\"morphId\":\"20202020-f635-435d-ab8d-e1168b375c70\"} targetProperty:MORPH_RELATION:{\"morphId\":\"20202020-f635-435d-ab8d-e1168b375c70\"}"],
  ["0bacdac0-a718-46ae-9b6b-a44537b11240","20202020-3f6b-4425-80ab-e468899ab4b2","message","messages","Message","Messages","Message","IconMessage",true,false,false,null,null,"subject","c98a45f1-af43-4b6e-a423-67bbe99eeac4",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR headerMessageId:TEXT subject:TEXT text:TEXT receivedAt:DATE_TIME:{\"settings\":null} deliveryStatus:SELECT isDraft:BOOLEAN messageCampaign:RELATION:{\"settings\":{\"onDelete\":\"SET_NULL\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"messageCampaignId\"}} messageThread:RELATION:{\"settings\":{\"onDelete\":\"CASCADE\",\"relationType\":\"MANY_TO_ONE\",\"joinColumnName\":\"messageThreadId\"}} messageParticipants:RELATION messageChannelMessageAssociations:RELATION"],
  ["0353e46b-58b9-4459-9ce0-963a20914137","20202020-62be-406c-b9ca-8caa50d51392","workflow","workflows","Workflow","Workflows","A workflow","IconSettingsAutomation",false,true,true,"W",null,"name","0d5a6022-c2c7-443c-b2b9-f3cc3e304468",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME name:TEXT lastPublishedVersionId:TEXT statuses:MULTI_SELECT position:POSITION createdBy:ACTOR updatedBy:ACTOR searchVector:TS_VECTOR attachments:RELATION timelineActivities:RELATION versions:RELATION runs:RELATION automatedTriggers:RELATION"],
  ["0026b2e8-e027-4f6b-91c6-dda417da33d3","20202020-8f1d-4eef-9f85-0d1965e27221","calendarEvent","calendarEvents","Calendar event","Calendar events","Calendar events","IconCalendar",true,false,false,null,null,"title","3725ba73-9f64-46bc-bf42-4a52ff6efbf8",null,"id:UUID createdAt:DATE_TIME updatedAt:DATE_TIME deletedAt:DATE_TIME createdBy:ACTOR updatedBy:ACTOR position:POSITION searchVector:TS_VECTOR title:TEXT isCanceled:BOOLEAN isFullDay:BOOLEAN startsAt:DATE_TIME:{\"settings\":null} endsAt:DATE_TIME:{\"settings\":null} externalCreatedAt:DATE_TIME:{\"settings\":null} externalUpdatedAt:DATE_TIME:{\"settings\":null} description:TEXT:{\"settings\":{\"displayedMaxRows\":99}} location:TEXT iCalUid:TEXT conferenceSolution:TEXT conferenceLink:LINKS calendarChannelEventAssociations:RELATION calendarEventParticipants:RELATION callRecordings:RELATION"],
];

/** The standard objects' SELECT and MULTI_SELECT fields (`object.field`): default value (or null) and options (value, label, colour). */
// prettier-ignore
const STANDARD_OPTIONS: Readonly<Record<string, [string | null, [string, string, string][]]>> = {
  "messageCampaign.status": ["'DRAFT'",[["DRAFT","Draft","gray"],["SCHEDULED","Scheduled","blue"],["SENDING","Sending","yellow"],["SENT","Sent","green"],["SENT_WITH_ERRORS","Sent with errors","orange"]]],
  "messageChannelMessageAssociation.direction": ["'INCOMING'",[["INCOMING","Incoming","green"],["OUTGOING","Outgoing","blue"]]],
  "messageParticipant.role": ["'FROM'",[["FROM","From","green"],["TO","To","blue"],["CC","Cc","orange"],["BCC","Bcc","red"],["REPLY_TO","Reply To","purple"]]],
  "workflowRun.status": ["'NOT_STARTED'",[["NOT_STARTED","Not started","gray"],["RUNNING","Running","yellow"],["COMPLETED","Completed","green"],["FAILED","Failed","red"],["ENQUEUED","Enqueued","blue"],["STOPPING","Stopping","orange"],["STOPPED","Stopped","gray"]]],
  "opportunity.stage": ["'NEW'",[["NEW","New","red"],["SCREENING","Screening","purple"],["MEETING","Meeting","sky"],["PROPOSAL","Proposal","turquoise"],["CUSTOMER","Customer","yellow"]]],
  "workflowAutomatedTrigger.type": ["'DATABASE_EVENT'",[["DATABASE_EVENT","Database Event","green"],["CRON","Cron","blue"]]],
  "workspaceMember.dateFormat": ["'SYSTEM'",[["SYSTEM","System","turquoise"],["MONTH_FIRST","Month First","red"],["DAY_FIRST","Day First","purple"],["YEAR_FIRST","Year First","sky"]]],
  "workspaceMember.timeFormat": ["'SYSTEM'",[["SYSTEM","System","sky"],["HOUR_24","24HRS","red"],["HOUR_12","12HRS","purple"]]],
  "workspaceMember.numberFormat": ["'SYSTEM'",[["SYSTEM","System","turquoise"],["COMMAS_AND_DOT","Commas and dot","blue"],["SPACES_AND_COMMA","Spaces and comma","green"],["DOTS_AND_COMMA","Dots and comma","orange"],["APOSTROPHE_AND_DOT","Apostrophe and dot","purple"]]],
  "task.status": ["'TODO'",[["TODO","To do","sky"],["IN_PROGRESS","In progress","purple"],["DONE","Done","green"]]],
  "attachment.fileCategory": ["'OTHER'",[["ARCHIVE","Archive","gray"],["AUDIO","Audio","pink"],["IMAGE","Image","yellow"],["PRESENTATION","Presentation","orange"],["SPREADSHEET","Spreadsheet","turquoise"],["TEXT_DOCUMENT","Text Document","blue"],["VIDEO","Video","purple"],["OTHER","Other","gray"]]],
  "workflowVersion.status": ["'DRAFT'",[["DRAFT","Draft","yellow"],["ACTIVE","Active","green"],["DEACTIVATED","Deactivated","orange"],["ARCHIVED","Archived","gray"]]],
  "callRecording.status": ["'SCHEDULED'",[["SCHEDULED","Scheduled","sky"],["JOINING","Joining","blue"],["RECORDING","Recording","red"],["PROCESSING","Processing","orange"],["COMPLETED","Completed","green"],["FAILED","Failed","gray"]]],
  "callRecording.recordingRequestStatus": ["'REQUESTED'",[["REQUESTED","Requested","sky"],["CANCELED","Canceled","gray"]]],
  "calendarEventParticipant.responseStatus": ["'NEEDS_ACTION'",[["NEEDS_ACTION","Needs Action","orange"],["DECLINED","Declined","red"],["TENTATIVE","Tentative","yellow"],["ACCEPTED","Accepted","green"]]],
  "message.deliveryStatus": [null,[["QUEUED","Queued","gray"],["SENT","Sent","green"],["FAILED","Failed","red"],["BOUNCED","Bounced","orange"],["COMPLAINED","Complained","purple"],["SKIPPED","Skipped","yellow"]]],
  "workflow.statuses": [null,[["DRAFT","Draft","yellow"],["ACTIVE","Active","green"],["DEACTIVATED","Deactivated","gray"]]],
};

// ---------------------------------------------------------------------------------------------
// Helpers: ids, text, rich text, search vectors
// ---------------------------------------------------------------------------------------------

/** A UUID that is always the same for the same parts (generated metadata ids). */
function stableUuid(...parts: string[]): string {
  const hex = createHash('sha1').update(parts.join(':')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

function titleCase(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The search vector Twenty keeps of a record's name: Postgres' `to_tsvector('simple', name)` as text. */
function searchVectorOf(text: unknown): string {
  if (typeof text !== 'string' || text.trim() === '') return '';
  const positions = new Map<string, number[]>();
  (text.toLowerCase().match(/[\p{L}\p{N}]+(?:[.@][\p{L}\p{N}]+)*/gu) ?? []).forEach((word, index) => {
    positions.set(word, [...(positions.get(word) ?? []), index + 1]);
  });
  return [...positions.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((word) => `'${word}':${(positions.get(word) as number[]).join(',')}`)
    .join(' ');
}

interface InlineText {
  type: 'text';
  text: string;
  styles: Record<string, boolean>;
}

/** `A **bright** flat` as BlockNote inline content: bold (`**`), italic (`*`, `_`) and code (`` ` ``). */
function inlineContent(text: string): InlineText[] {
  const content: InlineText[] = [];
  const pattern = /\*\*(.+?)\*\*|`(.+?)`|\*(.+?)\*|_(.+?)_/g;
  let last = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    if (match.index > last) content.push({ type: 'text', text: text.slice(last, match.index), styles: {} });
    const [, bold, code, star, underscore] = match;
    if (bold !== undefined) content.push({ type: 'text', text: bold, styles: { bold: true } });
    else if (code !== undefined) content.push({ type: 'text', text: code, styles: { code: true } });
    else content.push({ type: 'text', text: (star ?? underscore) as string, styles: { italic: true } });
    last = match.index + match[0].length;
  }
  if (last < text.length) content.push({ type: 'text', text: text.slice(last), styles: {} });
  return content;
}

/**
 * Markdown as the BlockNote JSON Twenty makes of it when a write sends only `markdown`: a
 * paragraph block a paragraph, each with a fresh id.
 */
export function blocknoteFromMarkdown(markdown: string): string | null {
  const paragraphs = markdown.split(/\n{2,}/).filter((paragraph) => paragraph.trim() !== '');
  if (paragraphs.length === 0) return null;
  return JSON.stringify(
    paragraphs.map((paragraph) => ({
      id: randomUUID(),
      type: 'paragraph',
      props: { backgroundColor: 'default', textColor: 'default', textAlignment: 'left' },
      content: inlineContent(paragraph),
      children: [],
    })),
  );
}

/** BlockNote JSON as markdown (paragraphs; bold, italic, code), when a write sends only `blocknote`. */
function markdownFromBlocknote(blocknote: string): string {
  try {
    const blocks = JSON.parse(blocknote) as { content?: { text?: string; styles?: Record<string, boolean> }[] }[];
    return blocks
      .map((block) =>
        (block.content ?? [])
          .map(({ text = '', styles = {} }) => (styles.bold ? `**${text}**` : styles.italic ? `*${text}*` : styles.code ? `\`${text}\`` : text))
          .join(''),
      )
      .join('\n\n');
  } catch {
    return '';
  }
}

/**
 * A record as Twenty's REST API returns one, with the standard composite fields: Currency
 * (`price`), Address (`address`, the only place the city is), RICH_TEXT (`description`),
 * Links (`photos`), SELECT (`propertyType`) and MULTI_SELECT (`features`).
 */
export function twentyRecord(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: `Listing ${id}`,
    description: {
      markdown: `Description of **listing ${id}**.`,
      blocknote: JSON.stringify([
        { id: 'b1', type: 'paragraph', props: {}, content: [{ type: 'text', text: `Description of listing ${id}.`, styles: {} }], children: [] },
      ]),
    },
    price: { amountMicros: 250_000_000_000 + Number.parseInt(id.replace(/\D/g, '') || '0', 10) * 1_000_000, currencyCode: 'EUR' },
    address: { addressStreet1: '1 Harbour Street', addressStreet2: '', addressCity: 'Lisbon', addressPostcode: '1100-001', addressCountry: 'Portugal' },
    propertyType: 'APARTMENT',
    features: ['BALCONY', 'SEA_VIEW'],
    bedrooms: 2,
    bathrooms: 1,
    areaSqm: 70,
    photos: {
      primaryLinkUrl: `https://cdn.example.com/${id}/1.jpg`,
      primaryLinkLabel: '',
      secondaryLinks: [{ url: `https://cdn.example.com/${id}/2.jpg`, label: '' }],
    },
    featured: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-02-01T00:00:00.000Z',
    deletedAt: null,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------
// Objects: fields, metadata
// ---------------------------------------------------------------------------------------------

interface FieldDef {
  name: string;
  type: TwentyFieldType;
  label: string;
  options?: TwentySelectOption[];
  defaultValue?: unknown;
  metadata?: Record<string, unknown>;
  createdAt?: string;
  /** Twenty's id of the field, where the object's header names it (label and image identifiers). */
  id?: string;
  /** A standard field's own settings, default value (null: none) and morph id, where they are not its type's. */
  own?: { settings?: unknown; defaultValue?: unknown; morphId?: string };
}

interface ObjectState {
  plural: string;
  singular: string;
  /** A workspace's own object (its fields' metadata as Twenty lists custom fields), or a standard one. */
  custom: boolean;
  header: Record<string, unknown>;
  fields: FieldDef[];
  records: () => Record<string, unknown>[];
  uuidIds: boolean;
  /** The TEXT field Twenty shows as the record's name (and indexes in searchVector). */
  labelField?: string;
}

function fieldDefs(fields: TwentyFields): FieldDef[] {
  const defs: FieldDef[] = Object.entries(fields).map(([name, spec]) => {
    const full: TwentyFieldSpec = typeof spec === 'string' ? { type: spec } : spec;
    return { name, type: full.type, label: full.label ?? titleCase(name), options: full.options, defaultValue: full.defaultValue, metadata: full.metadata };
  });
  for (const [name, type, label] of SYSTEM_FIELDS) if (!defs.some((field) => field.name === name)) defs.push({ name, type, label });
  return defs;
}

/** A field's entry in the metadata API, generated with the keys Twenty 2.21 gives a field of its kind. */
function fieldMetadata(object: ObjectState, field: FieldDef, workspaceId: string): Record<string, unknown> {
  if (field.metadata) return field.metadata;
  const objectId = String(object.header.id);
  const system = SYSTEM_NAMES.has(field.name);
  const described = system || !object.custom;
  const entry: Record<string, unknown> = {
    id: field.id ?? stableUuid('field', objectId, field.name),
    universalIdentifier: stableUuid('universal', objectId, field.name),
    applicationId: object.custom ? CUSTOM_APPLICATION_ID : STANDARD_APPLICATION_ID,
    type: field.type,
    name: field.name,
    label: field.label,
  };
  if (described) {
    entry.description = SYSTEM_FIELDS.find(([name]) => name === field.name)?.[3] ?? field.label;
    entry.icon = 'IconAbc';
  }
  Object.assign(entry, {
    isActive: true,
    isSystem: system,
    isUIEditable: !system,
    isUIReadOnly: system,
    isNullable: !['id', 'createdAt', 'updatedAt', 'createdBy', 'updatedBy', 'position'].includes(field.name),
    isUnique: false,
  });
  const relative = { displayFormat: 'RELATIVE' };
  if (field.name === 'id') entry.defaultValue = 'uuid';
  else if (field.name === 'createdAt' || field.name === 'updatedAt') entry.defaultValue = 'now';
  else if (field.type === 'ACTOR')
    entry.defaultValue = object.custom ? { name: "''", source: "'MANUAL'" } : { name: "'System'", source: "'MANUAL'", workspaceMemberId: null };
  else if (field.type === 'POSITION') entry.defaultValue = 0;
  else if (field.defaultValue !== undefined) entry.defaultValue = field.defaultValue;
  else if (!object.custom && (field.type === 'BOOLEAN' || field.type === 'NUMBER')) entry.defaultValue = field.type === 'BOOLEAN' ? false : 0;
  if (!object.custom) {
    if (field.type === 'DATE_TIME') entry.settings = relative;
    else if (field.type === 'RELATION') entry.settings = { relationType: 'ONE_TO_MANY' };
    else if (field.type === 'MORPH_RELATION') entry.settings = { onDelete: 'SET_NULL', relationType: 'MANY_TO_ONE', joinColumnName: `${field.name}Id` };
    else if (['EMAILS', 'PHONES', 'FILES'].includes(field.type)) entry.settings = { maxNumberOfValues: 1 };
  }
  if (field.options) {
    entry.options = field.options.map((option, position) => ({
      id: option.id ?? stableUuid('option', objectId, field.name, option.value),
      color: option.color ?? 'gray',
      label: option.label,
      value: option.value,
      position: option.position ?? position,
    }));
  } else if (field.type === 'SELECT' || field.type === 'MULTI_SELECT') entry.options = [];
  for (const key of ['settings', 'defaultValue'] as const) {
    if (field.own && key in field.own) {
      if (field.own[key] === null) delete entry[key];
      else entry[key] = field.own[key];
    }
  }
  Object.assign(entry, { workspaceId, objectMetadataId: objectId, isLabelSyncedWithName: false });
  if (field.type === 'MORPH_RELATION') entry.morphId = field.own?.morphId ?? stableUuid('morph', field.name);
  const createdAt = field.createdAt ?? String(object.header.createdAt ?? STANDARD_CREATED_AT);
  return Object.assign(entry, { createdAt, updatedAt: createdAt });
}

function standardObjectHeader(row: StandardObjectRow, workspaceId: string): Record<string, unknown> {
  const [id, universalIdentifier, singular, plural, labelSingular, labelPlural, description, icon, isSystem, isSearchable, isUICreatable] = row;
  const [, , , , , , , , , , , shortcut, duplicateCriteria, , labelFieldId, imageField] = row;
  const header: Record<string, unknown> = { id, universalIdentifier, applicationId: STANDARD_APPLICATION_ID, nameSingular: singular, namePlural: plural };
  Object.assign(header, { labelSingular, labelPlural, description, icon });
  if (shortcut) header.shortcut = shortcut;
  Object.assign(header, { isRemote: false, isActive: true, isSystem, isUIEditable: true, isUICreatable, isUIReadOnly: false, isSearchable });
  Object.assign(header, { isLabelSyncedWithName: false, workspaceId, labelIdentifierFieldMetadataId: labelFieldId });
  if (imageField) header.imageIdentifierFieldMetadataId = imageField[1];
  if (duplicateCriteria) header.duplicateCriteria = duplicateCriteria;
  return Object.assign(header, { createdAt: STANDARD_CREATED_AT, updatedAt: STANDARD_CREATED_AT });
}

function standardObjectFields(row: StandardObjectRow): FieldDef[] {
  const [, , , , , , , , , , , , , labelField, labelFieldId, imageField, fields] = row;
  return fields.split(' ').map((entry) => {
    const [name, type] = entry.split(':', 2) as [string, TwentyFieldType];
    // `name:TYPE:{...}`: the settings, default value or morph id Twenty gives this field where they differ from its type's.
    const own = entry.length > name.length + type.length + 1 ? (JSON.parse(entry.slice(name.length + type.length + 2)) as FieldDef['own']) : undefined;
    const label = SYSTEM_FIELDS.find(([system]) => system === name)?.[2] ?? titleCase(name);
    // The object's header names its label and image identifier fields by id: Twenty's ids.
    const id = name === labelField ? labelFieldId : name === imageField?.[0] ? imageField[1] : undefined;
    const field: FieldDef = { name, type, label, id, own };
    const select = STANDARD_OPTIONS[`${row[2]}.${name}`];
    if (select) {
      field.options = select[1].map(([value, optionLabel, color]) => ({ value, label: optionLabel, color }));
      if (select[0] !== null) field.defaultValue = select[0];
    }
    return field;
  });
}

// ---------------------------------------------------------------------------------------------
// Values: comparison, SQL null semantics, LIKE
// ---------------------------------------------------------------------------------------------

const isNull = (value: unknown) => value === null || value === undefined;

function valueAt(record: unknown, path: readonly string[]): unknown {
  let value = record;
  for (const part of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

function compareValues(a: unknown, b: unknown, type: TwentyFieldType): number {
  if ((type === 'DATE_TIME' || type === 'DATE') && typeof a === 'string' && typeof b === 'string') {
    const [x, y] = [Date.parse(a), Date.parse(b)];
    if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const [x, y] = [typeof a === 'string' ? a : JSON.stringify(a), typeof b === 'string' ? b : JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `LIKE` / `ILIKE` as Postgres does them: `%` any run, `_` one character, `\` escapes the next one. */
function likeMatches(value: unknown, pattern: string, caseInsensitive: boolean): boolean {
  if (typeof value !== 'string') return false;
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i] as string;
    if (char === '\\' && i + 1 < pattern.length) source += (pattern[(i += 1)] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'isu' : 'su').test(value);
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

const json = (status: number, body: unknown): TwentyAnswer => ({ status, body });
const badRequest = (message: string) => json(400, { statusCode: 400, error: 'BadRequestException', messages: [message] });
const queryError = (message: string, code: string) => json(400, { statusCode: 400, error: 'Error', messages: [message], code });
const recordNotFound = () => json(404, { statusCode: 404, error: 'NotFoundException', messages: ['Record not found'] });

class Refusal extends Error {
  constructor(readonly answer: TwentyAnswer) {
    super('refused');
  }
}
const refuse = (answer: TwentyAnswer): never => {
  throw new Refusal(answer);
};

// ---------------------------------------------------------------------------------------------
// Query parsing: filter, order_by, cursors
// ---------------------------------------------------------------------------------------------

const COMPARATORS = ['eq', 'neq', 'in', 'containsAny', 'is', 'gt', 'gte', 'lt', 'lte', 'startsWith', 'endsWith', 'like', 'ilike'];
const DIRECTIONS = ['AscNullsFirst', 'AscNullsLast', 'DescNullsFirst', 'DescNullsLast'];
const CONJUNCTION = /^(and|or|not)\((.+)\)$/s;

type Filter =
  { and: Filter[] } | { or: Filter[] } | { not: Filter } | { path: string[]; type: TwentyFieldType; comparator: string; value: unknown; composite: boolean };

/** Splits `and(a,b(c,d),"e,f")`'s content at its top-level commas (outside brackets and quotes), as Twenty does. */
function filterParts(filter: string): string[] {
  let brackets = false;
  let double = false;
  let single = false;
  let depth = 0;
  const parts: string[] = [];
  let current = '';
  for (const char of filter) {
    let keep = depth >= 1;
    if (char === '(') depth += 1;
    if (char === ')') {
      depth -= 1;
      keep = depth >= 1;
    }
    if (char === '[' || char === ']') brackets = !brackets;
    if (char === '"') double = !double;
    if (char === "'") single = !single;
    if (char === ',' && depth === 1 && !brackets && !double && !single) {
      parts.push(current);
      current = '';
      keep = false;
    }
    if (keep) current += char;
  }
  parts.push(current);
  return parts;
}

interface OrderKey {
  path: string[];
  type: TwentyFieldType;
  direction: string;
}

interface Cursor {
  values: unknown;
}

function encodeCursor(record: Record<string, unknown>, keys: readonly OrderKey[]): string {
  const cursor: Record<string, unknown> = {};
  for (const { path } of keys) {
    let target = cursor;
    path.slice(0, -1).forEach((part) => {
      target[part] = target[part] && typeof target[part] === 'object' ? target[part] : {};
      target = target[part] as Record<string, unknown>;
    });
    const value = valueAt(record, path);
    target[path.at(-1) as string] = value === undefined ? null : value;
  }
  return Buffer.from(JSON.stringify(cursor)).toString('base64');
}

function decodeCursor(text: string): Cursor {
  try {
    const values: unknown = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
    if (values && typeof values === 'object' && !Array.isArray(values)) return { values };
  } catch {
    // not base64 JSON: refused below
  }
  return refuse(badRequest(`Invalid cursor: ${text}`));
}

/** Sorts rows by the keys, nulls where each key's direction puts them. */
function compareRows(a: unknown, b: unknown, keys: readonly OrderKey[]): number {
  for (const { path, type, direction } of keys) {
    const x = valueAt(a, path);
    const y = valueAt(b, path);
    if (isNull(x) && isNull(y)) continue;
    if (isNull(x) || isNull(y)) return (isNull(x) ? -1 : 1) * (direction.endsWith('NullsFirst') ? 1 : -1);
    const order = compareValues(x, y, type) * (direction.startsWith('Asc') ? 1 : -1);
    if (order !== 0) return order;
  }
  return 0;
}

/**
 * Whether a row comes after (`sign` 1) or before (-1) the cursor as Twenty 2.21's SQL asks it:
 * `k1 > c1 OR (k1 = c1 AND k2 > c2) OR ...`, where any comparison with a null is not true.
 * A row whose sort value is null is never after a cursor, and nothing is after a null cursor.
 */
function sqlBeyond(row: unknown, cursor: Cursor, keys: readonly OrderKey[], sign: 1 | -1): boolean {
  for (let i = 0; i < keys.length; i += 1) {
    const prefixEqual = keys.slice(0, i).every(({ path, type }) => {
      const [x, y] = [valueAt(row, path), valueAt(cursor.values, path)];
      return !isNull(x) && !isNull(y) && compareValues(x, y, type) === 0;
    });
    if (!prefixEqual) continue;
    const { path, type, direction } = keys[i] as OrderKey;
    const [x, y] = [valueAt(row, path), valueAt(cursor.values, path)];
    if (isNull(x) || isNull(y)) continue;
    if (compareValues(x, y, type) * (direction.startsWith('Asc') ? 1 : -1) * sign > 0) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Rate limit: Twenty's token buckets
// ---------------------------------------------------------------------------------------------

interface Bucket {
  max: number;
  windowMs: number;
  tokens?: number;
  lastRefillAt?: number;
}

/** Twenty's TOKEN_BUCKET_THROTTLE_SCRIPT: whole tokens refilled since the last admitted query; a refusal changes nothing. */
function takeToken(bucket: Bucket, now: number): boolean {
  const refill = bucket.lastRefillAt === undefined ? 0 : Math.floor(Math.max(0, now - bucket.lastRefillAt) * (bucket.max / bucket.windowMs));
  const available = bucket.tokens === undefined ? bucket.max : Math.min((bucket.tokens as number) + refill, bucket.max);
  if (available < 1) return false;
  bucket.tokens = available - 1;
  bucket.lastRefillAt = now;
  return true;
}

// ---------------------------------------------------------------------------------------------
// The stand-in
// ---------------------------------------------------------------------------------------------

const PRIVATE_HOST = /^(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|0\.|\[?::1\]?$|\[?f[cd][0-9a-f]{2}:)/i;

function operationMatches(operation: string, eventName: string): boolean {
  if (operation === '*.*' || operation === eventName) return true;
  const [object, action] = operation.split('.');
  const dot = eventName.lastIndexOf('.');
  const [eventObject, eventAction] = [eventName.slice(0, dot), eventName.slice(dot + 1)];
  return (object === '*' || object === eventObject) && (action === '*' || action === eventAction);
}

/**
 * Starts the stand-in on 127.0.0.1 (a free port): `records` are the listing object's. Every
 * answer is Twenty 2.21's own (status, body, Content-Type), see the options for the rest.
 */
export async function startTwentyStub(records: Record<string, unknown>[], options: TwentyStubOptions = {}): Promise<TwentyStub> {
  const { plural = 'listings', singular = 'listing', version = '2.21', maxLimit = 200, apiKeyName = 'listings-ssr' } = options;
  const { metadataPageSize = 60, workspaceId = DEFAULT_WORKSPACE_ID } = options;
  const now = options.clock ?? Date.now;
  const iso = () => new Date(now()).toISOString();
  const actor = () => ({ source: 'API', workspaceMemberId: null, name: apiKeyName, context: {} });
  const apiKeyId = stableUuid('api-key', apiKeyName);
  // Twenty checks the second's bucket, then the minute's (a token taken from the first stays taken).
  const buckets: Bucket[] = [];
  if (options.rateLimit?.perSecond) buckets.push({ max: options.rateLimit.perSecond, windowMs: 1000 });
  if (options.rateLimit?.perMinute) buckets.push({ max: options.rateLimit.perMinute, windowMs: 60_000 });
  const allUuids = (rows: Record<string, unknown>[]) => rows.length > 0 && rows.every((row) => UUID.test(String(row.id)));
  const bodies = new WeakMap<IncomingMessage, string>();
  const agent = new Agent({ keepAlive: true });
  const waiters = new Set<() => void>();

  // The listing object.
  const listing: ObjectState = {
    plural,
    singular,
    custom: true,
    header: {},
    fields: fieldDefs(options.fields ?? DEFAULT_LISTING_FIELDS),
    records: () => stub.records,
    uuidIds: options.uuidIds ?? allUuids(records),
  };
  listing.labelField =
    listing.fields.find((field) => field.name === 'name' && field.type === 'TEXT')?.name ?? listing.fields.find((field) => field.type === 'TEXT')?.name;
  if (options.objectMetadata) listing.header = { ...options.objectMetadata };
  else {
    const id = DEFAULT_OBJECT_ID;
    listing.header = {
      id,
      universalIdentifier: stableUuid('universal', id),
      applicationId: CUSTOM_APPLICATION_ID,
      nameSingular: singular,
      namePlural: plural,
      labelSingular: titleCase(singular),
      labelPlural: titleCase(plural),
      icon: 'IconHome',
      isRemote: false,
      isActive: true,
      isSystem: false,
      isUIEditable: true,
      isUICreatable: true,
      isUIReadOnly: false,
      isSearchable: true,
      isLabelSyncedWithName: false,
      workspaceId,
      labelIdentifierFieldMetadataId: null,
      createdAt: STANDARD_CREATED_AT,
      updatedAt: STANDARD_CREATED_AT,
    };
    const label = listing.fields.find((field) => field.name === listing.labelField);
    if (label) listing.header.labelIdentifierFieldMetadataId = fieldMetadata(listing, label, workspaceId).id;
  }

  // Other record objects (companies, ...), in place of the standard object of the same plural.
  const others: ObjectState[] = (options.otherObjects ?? []).map((spec) => {
    const row = STANDARD_OBJECTS.find((candidate) => candidate[3] === spec.plural);
    const object: ObjectState = {
      plural: spec.plural,
      singular: spec.singular,
      custom: !row && !spec.metadata,
      header: spec.metadata ? { ...spec.metadata } : row ? standardObjectHeader(row, workspaceId) : {},
      fields: fieldDefs(spec.fields),
      records: () => spec.records,
      uuidIds: allUuids(spec.records),
    };
    object.labelField = object.fields.find((field) => field.name === 'name' && field.type === 'TEXT')?.name;
    if (!spec.metadata && !row) {
      const id = stableUuid('object', spec.plural);
      Object.assign(object.header, {
        ...listing.header,
        id,
        universalIdentifier: stableUuid('universal', id),
        nameSingular: spec.singular,
        namePlural: spec.plural,
      });
      Object.assign(object.header, { labelSingular: titleCase(spec.singular), labelPlural: titleCase(spec.plural), labelIdentifierFieldMetadataId: null });
    }
    if (row) {
      // Twenty's ids for the label (and image) identifier fields, named in the header.
      for (const field of object.fields) {
        if (field.name === row[13]) field.id = row[14];
        if (row[15] && field.name === row[15][0]) field.id = row[15][1];
      }
    }
    return object;
  });
  const objects = [listing, ...others];
  const standard = STANDARD_OBJECTS.slice(0, options.standardObjects ?? STANDARD_OBJECTS.length).filter(
    (row) => !objects.some((object) => object.plural === row[3]) && row[3] !== plural,
  );

  /** Every object as the metadata API lists it: by id, descending (as 2.21 answers). */
  const metadataObjects = (): Record<string, unknown>[] => {
    const entries: Record<string, unknown>[] = objects.map((object) => ({
      ...object.header,
      fields: object.fields.map((field) => fieldMetadata(object, field, workspaceId)),
    }));
    for (const row of standard) {
      const header = standardObjectHeader(row, workspaceId);
      const state: ObjectState = { plural: row[3], singular: row[2], custom: false, header, fields: [], records: () => [], uuidIds: true };
      entries.push({ ...header, fields: standardObjectFields(row).map((field) => fieldMetadata(state, field, workspaceId)) });
    }
    return entries.sort((a, b) => (String(a.id) < String(b.id) ? 1 : String(a.id) > String(b.id) ? -1 : 0));
  };

  // -------------------------------------------------------------------------------------------
  // Fields and values of one object
  // -------------------------------------------------------------------------------------------

  const fieldOf = (object: ObjectState, name: string) => object.fields.find((field) => field.name === name && !RELATIONS.has(field.type));

  function emptyValue(field: FieldDef): unknown {
    if (field.defaultValue !== undefined) return structuredClone(field.defaultValue);
    switch (field.type) {
      case 'TEXT':
        return '';
      case 'CURRENCY':
        return { amountMicros: null, currencyCode: '' };
      case 'ADDRESS':
        return {
          addressStreet1: '',
          addressStreet2: '',
          addressCity: '',
          addressPostcode: '',
          addressState: '',
          addressCountry: '',
          addressLat: null,
          addressLng: null,
        };
      case 'LINKS':
        return { primaryLinkLabel: '', primaryLinkUrl: '', secondaryLinks: [] };
      case 'EMAILS':
        return { primaryEmail: '', additionalEmails: null };
      case 'PHONES':
        return { primaryPhoneNumber: '', primaryPhoneCountryCode: '', primaryPhoneCallingCode: '', additionalPhones: null };
      case 'FULL_NAME':
        return { firstName: '', lastName: '' };
      case 'RICH_TEXT':
      case 'RICH_TEXT_V2':
        return { blocknote: null, markdown: '' };
      default:
        return null;
    }
  }

  /** A write's value for a field: composites merged subfield by subfield over what is there, rich text completed. */
  function written(field: FieldDef, value: unknown, before: unknown): unknown {
    const subfields = COMPOSITE_SUBFIELDS[field.type];
    if (!subfields || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const given = value as Record<string, unknown>;
    const unknown = Object.keys(given).find((key) => !subfields.includes(key));
    if (unknown) refuse(badRequest(`Sub field "${unknown}" not found for composite type: ${field.type}`));
    const base = (before && typeof before === 'object' ? before : emptyValue(field)) as Record<string, unknown>;
    const merged: Record<string, unknown> = {};
    for (const key of subfields) if (key in given || key in base) merged[key] = key in given ? given[key] : base[key];
    if (field.type === 'RICH_TEXT' || field.type === 'RICH_TEXT_V2') {
      if ('markdown' in given && !('blocknote' in given)) merged.blocknote = blocknoteFromMarkdown(String(given.markdown ?? ''));
      if ('blocknote' in given && !('markdown' in given)) merged.markdown = typeof given.blocknote === 'string' ? markdownFromBlocknote(given.blocknote) : '';
    }
    return merged;
  }

  function checkWrite(object: ObjectState, body: unknown): Record<string, unknown> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return refuse(badRequest('The request body must be a JSON object'));
    for (const key of Object.keys(body)) if (!fieldOf(object, key)) refuse(badRequest(`Object ${object.singular} doesn't have any "${key}" field.`));
    return body as Record<string, unknown>;
  }

  function create(object: ObjectState, body: Record<string, unknown>): Record<string, unknown> {
    const rows = object.records();
    const id = typeof body.id === 'string' ? body.id : randomUUID();
    if (object.uuidIds && !UUID.test(id)) refuse(badRequest(`'${id}' is not a valid UUID`));
    if (rows.some((row) => row.id === id)) refuse(badRequest(`A duplicate entry was detected: a record with id ${id} exists`));
    const at = iso();
    const positions = rows.map((row) => row.position).filter((position): position is number => typeof position === 'number');
    const record: Record<string, unknown> = {};
    for (const field of object.fields) {
      if (RELATIONS.has(field.type)) continue;
      const name = field.name;
      if (name === 'id') record.id = id;
      else if (name === 'createdAt' || name === 'updatedAt') record[name] = at;
      else if (name === 'createdBy' || name === 'updatedBy') record[name] = actor();
      else if (name === 'deletedAt') record[name] = null;
      else if (name === 'position') record[name] = typeof body.position === 'number' ? body.position : positions.length > 0 ? Math.min(...positions) - 1 : 0;
      else if (name === 'searchVector') record[name] = null;
      else record[name] = name in body ? written(field, body[name], undefined) : emptyValue(field);
    }
    if ('searchVector' in record) record.searchVector = object.labelField ? searchVectorOf(record[object.labelField]) : '';
    rows.push(record);
    return record;
  }

  function update(object: ObjectState, record: Record<string, unknown>, body: Record<string, unknown>): string[] {
    const changed = Object.keys(body).filter((key) => key !== 'id' && !SERVER_FILLED.has(key));
    for (const key of changed) record[key] = written(fieldOf(object, key) as FieldDef, body[key], record[key]);
    record.updatedAt = iso();
    if ('updatedBy' in record || object.fields.some((field) => field.name === 'updatedBy')) record.updatedBy = actor();
    if (object.labelField && changed.includes(object.labelField) && 'searchVector' in record) record.searchVector = searchVectorOf(record[object.labelField]);
    return changed;
  }

  // -------------------------------------------------------------------------------------------
  // Webhooks
  // -------------------------------------------------------------------------------------------

  function deliver(hook: TwentyWebhook, payload: Record<string, unknown>): void {
    // Twenty's body: targetUrl first, then the event's fields with this webhook's id.
    const message: Record<string, unknown> = { targetUrl: hook.targetUrl, ...payload };
    if ('webhookId' in message) message.webhookId = hook.id;
    const body = JSON.stringify(message);
    const timestamp = String(now());
    const headers: [string, string][] = [
      ['Accept', 'application/json, text/plain, */*'],
      ['Content-Type', 'application/json'],
      ['X-Twenty-Webhook-Timestamp', timestamp],
    ];
    if (hook.secret) headers.push(['X-Twenty-Webhook-Signature', createHmac('sha256', hook.secret).update(`${timestamp}:${body}`).digest('hex')]);
    headers.push(['X-Twenty-Webhook-Nonce', randomBytes(16).toString('hex')], ['User-Agent', AXIOS_USER_AGENT]);
    headers.push(['Content-Length', String(Buffer.byteLength(body))], ['Accept-Encoding', 'gzip, compress, deflate, br']);
    const delivery: TwentyDelivery = { webhookId: hook.id, targetUrl: hook.targetUrl, eventName: String(payload.eventName), headers, body };
    const done = (result: Partial<TwentyDelivery>) => {
      stub.deliveries.push(Object.assign(delivery, result));
      for (const waiter of [...waiters]) waiter();
    };
    let target: URL;
    try {
      target = new URL(hook.targetUrl);
    } catch {
      return done({ error: 'invalid target URL' });
    }
    if (stub.webhookSafeMode && PRIVATE_HOST.test(target.hostname)) return done({ skipped: 'OUTBOUND_HTTP_SAFE_MODE_ENABLED: private or loopback address' });
    headers.push(['Host', target.host], ['Connection', 'keep-alive']);
    // Once, after the answer to the write; never retried, a failure ignored (as Twenty's worker does).
    setTimeout(() => {
      const request = httpRequest(
        {
          hostname: target.hostname,
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method: 'POST',
          headers: headers.flat(),
          agent,
          timeout: 5000,
        },
        (response) => {
          response.resume();
          response.on('end', () => done({ status: response.statusCode }));
          response.on('error', (error) => done({ status: response.statusCode, error: error.message }));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', (error) => {
        if (!stub.deliveries.includes(delivery)) done({ error: error.message });
      });
      request.end(body);
    }, 0).unref();
  }

  function emit(eventName: string, payload: Record<string, unknown>): void {
    for (const hook of stub.webhooks) {
      if (hook.operations.some((operation) => operationMatches(operation, eventName))) deliver(hook, { eventName, ...payload });
    }
  }

  function recordEvent(object: ObjectState, action: string, record: Record<string, unknown>, updatedFields?: string[]): void {
    emit(`${object.singular}.${action}`, {
      objectMetadata: { id: object.header.id, nameSingular: object.singular },
      workspaceId,
      webhookId: undefined,
      eventDate: iso(),
      record: structuredClone(record),
      ...(updatedFields ? { updatedFields } : {}),
    });
  }

  function registerWebhook(body: Record<string, unknown>): TwentyWebhook {
    const at = iso();
    const hook: TwentyWebhook = {
      id: typeof body.id === 'string' ? body.id : randomUUID(),
      targetUrl: String(body.targetUrl ?? ''),
      operations: Array.isArray(body.operations) ? body.operations.map(String) : ['*.*'],
      description: typeof body.description === 'string' ? body.description : null,
      secret: typeof body.secret === 'string' ? body.secret : null,
      workspaceId,
      applicationId: CUSTOM_APPLICATION_ID,
      createdAt: at,
      updatedAt: at,
      deletedAt: null,
    };
    stub.webhooks.push(hook);
    return hook;
  }

  // -------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------

  function parseFilter(object: ObjectState, text: string): Filter {
    const open = (text.match(/\(/g) ?? []).length - (text.match(/\)/g) ?? []).length;
    if (open !== 0) {
      const count = Math.abs(open);
      const hint = `${count} ${open > 0 ? 'close' : 'open'} bracket${count > 1 ? 's are' : ' is'}`;
      refuse(badRequest(`'filter' invalid. ${hint} missing in the query`));
    }
    return parseFilterNode(object, CONJUNCTION.test(text) ? text : `and(${text})`);
  }

  function parseFilterNode(object: ObjectState, text: string): Filter {
    const conjunction = CONJUNCTION.exec(text);
    if (conjunction) {
      const parts = filterParts(text).map((part) => parseFilterNode(object, part));
      if (conjunction[1] === 'not') {
        if (parts.length > 1) refuse(badRequest(`'filter' invalid. 'not' conjunction should contain only 1 condition. eg: not(field[eq]:1)`));
        return { not: parts[0] as Filter };
      }
      return conjunction[1] === 'or' ? { or: parts } : { and: parts };
    }
    if (!/^(.+)\[(.+)\]:(.+)$/s.test(text)) refuse(badRequest(`'filter' invalid for '${text}'. eg: price[gte]:10`));
    let [fields, comparator, raw] = ['', '', ''];
    let [inFields, inComparator, inValue] = [true, false, false];
    for (const char of text) {
      if (inValue) raw += char;
      if (char === ']' && !inValue) inComparator = false;
      if (char === ':' && !inComparator) inValue = true;
      if (inComparator) comparator += char;
      if (char === '[' && inFields) [inFields, inComparator] = [false, true];
      if (inFields) fields += char;
    }
    if (!COMPARATORS.includes(comparator)) refuse(badRequest(`'filter' invalid for '${text}', comparator ${comparator} not in ${COMPARATORS.join(', ')}`));
    const path = fields.split('.');
    const field = fieldOf(object, path[0] as string);
    if (!field) return refuse(badRequest(`Object ${object.singular} doesn't have any "${path[0]}" field.`));
    const subfields = COMPOSITE_SUBFIELDS[field.type];
    const subfield = path[1];
    if (subfields) {
      if (subfield === undefined && comparator !== 'is') refuse(badRequest(`Sub field "${comparator}" not found for composite type: ${field.type}`));
      if (subfield !== undefined && (!subfields.includes(subfield) || path.length > 2))
        refuse(badRequest(`Sub field "${subfield}" not found for composite type: ${field.type}`));
    } else if (subfield !== undefined) refuse(badRequest(`Object ${object.singular} doesn't have any "${fields}" field.`));
    const numeric = subfield !== undefined ? NUMERIC_SUBFIELDS.has(subfield) : ['NUMBER', 'NUMERIC', 'POSITION'].includes(field.type);
    const format = (value: string): unknown => {
      if (numeric) return field.type === 'NUMERIC' ? parseInt(value, 10) : parseFloat(value);
      if (field.type === 'BOOLEAN' && subfield === undefined) return value.toLowerCase() === 'true';
      const quoted = /^["']/.test(value) && /["']$/.test(value) && value.length >= 2;
      return quoted ? value.slice(1, -1) : value;
    };
    let value: unknown;
    if (comparator === 'in' || comparator === 'containsAny') {
      if (!raw.startsWith('[') || !raw.endsWith(']')) {
        refuse(
          badRequest(`'filter' invalid for '${comparator}' operator. Received '${raw}' but array value expected eg: 'field[${comparator}]:[value_1,value_2]'`),
        );
      }
      value = raw.slice(1, -1).split(',').map(format);
    } else if (comparator === 'is') {
      if (raw !== 'NULL' && raw !== 'NOT_NULL') refuse(badRequest(`'filter' invalid for '${text}': 'is' takes NULL or NOT_NULL`));
      value = raw;
    } else value = format(raw);
    if ((field.type === 'SELECT' || field.type === 'MULTI_SELECT') && field.options && comparator !== 'is') {
      const allowed = field.options.map((option) => option.value);
      for (const one of (/^\[.*\]$/.test(raw) ? raw.slice(1, -1).split(',') : [raw]).map((value) => value.replace(/^(["'])(.*)\1$/, '$2'))) {
        if (![...allowed, 'NULL', 'NOT_NULL'].includes(one)) {
          refuse(badRequest(`'filter' enum value '${one}' not available in '${field.name}' enum. Available enum values are ['${allowed.join("', '")}']`));
        }
      }
    }
    return {
      path,
      type: subfield !== undefined && numeric ? 'NUMBER' : field.type,
      comparator,
      value,
      composite: subfields !== undefined && subfield === undefined,
    };
  }

  function matches(row: Record<string, unknown>, filter: Filter): boolean {
    if ('and' in filter) return filter.and.every((part) => matches(row, part));
    if ('or' in filter) return filter.or.some((part) => matches(row, part));
    if ('not' in filter) return !matches(row, filter.not);
    const { path, type, comparator, value, composite } = filter;
    const actual = valueAt(row, path);
    if (comparator === 'is') {
      const empty = composite ? isNull(actual) || Object.values(actual as object).every(isNull) : isNull(actual);
      return value === 'NULL' ? empty : !empty;
    }
    if (isNull(actual)) return false;
    switch (comparator) {
      case 'eq':
        return !Array.isArray(actual) && compareValues(actual, value, type) === 0;
      case 'neq':
        return !Array.isArray(actual) && compareValues(actual, value, type) !== 0;
      case 'gt':
        return compareValues(actual, value, type) > 0;
      case 'gte':
        return compareValues(actual, value, type) >= 0;
      case 'lt':
        return compareValues(actual, value, type) < 0;
      case 'lte':
        return compareValues(actual, value, type) <= 0;
      case 'in':
        return (value as unknown[]).some((one) => compareValues(actual, one, type) === 0);
      case 'containsAny':
        return Array.isArray(actual) && actual.some((one) => (value as unknown[]).includes(one));
      case 'startsWith':
        return typeof actual === 'string' && actual.startsWith(String(value));
      case 'endsWith':
        return typeof actual === 'string' && actual.endsWith(String(value));
      case 'like':
        return likeMatches(actual, String(value), false);
      default:
        return likeMatches(actual, String(value), true);
    }
  }

  const mentionsDeletedAt = (filter: Filter | undefined): boolean =>
    filter === undefined
      ? false
      : 'and' in filter
        ? filter.and.some(mentionsDeletedAt)
        : 'or' in filter
          ? filter.or.some(mentionsDeletedAt)
          : 'not' in filter
            ? mentionsDeletedAt(filter.not)
            : filter.path[0] === 'deletedAt';

  function parseOrder(object: ObjectState, text: string | null): OrderKey[] {
    const keys: OrderKey[] = [];
    for (const item of text === null ? [] : text.split(',')) {
      let [fields, direction] = [item, 'AscNullsFirst'];
      if (item.includes('[') && item.includes(']')) {
        [fields, direction] = item.replace(']', '').split('[') as [string, string];
        if (!DIRECTIONS.includes(direction)) {
          refuse(
            badRequest(
              `'order_by' direction '${direction}' invalid. Allowed values are '${DIRECTIONS.join("', '")}'. eg: ?order_by=field_1[AscNullsFirst],field_2[DescNullsLast],field_3`,
            ),
          );
        }
      }
      const path = fields.split('.');
      const field = object.fields.find((candidate) => candidate.name === path[0]);
      if (!field || RELATIONS.has(field.type) || field.type === 'TS_VECTOR') {
        return refuse(queryError(`Field "${path[0]}" does not exist or is not sortable`, 'FIELD_NOT_FOUND'));
      }
      const subfields = COMPOSITE_SUBFIELDS[field.type];
      if (subfields && path.length === 1) {
        refuse(
          queryError(
            `Composite field "${field.name}" requires subfield ordering (e.g., { ${field.name}: { subFieldName: 'AscNullsFirst' } })`,
            'INVALID_QUERY_INPUT',
          ),
        );
      }
      if ((subfields && (path.length > 2 || !subfields.includes(path[1] as string))) || (!subfields && path.length > 1)) {
        refuse(queryError(`Field "${fields}" does not exist or is not sortable`, 'FIELD_NOT_FOUND'));
      }
      const type = path.length > 1 && NUMERIC_SUBFIELDS.has(path[1] as string) ? 'NUMBER' : field.type;
      keys.push({ path, type, direction });
    }
    if (!keys.some((key) => key.path.length === 1 && key.path[0] === 'id')) keys.push({ path: ['id'], type: 'UUID', direction: 'AscNullsFirst' });
    return keys;
  }

  function list(object: ObjectState, query: URLSearchParams): TwentyAnswer {
    const limitText = query.get('limit');
    let limit = 60;
    if (limitText) {
      const asked = Number(limitText);
      if (Number.isNaN(asked) || asked < 0) refuse(badRequest(`limit '${limitText}' is invalid. Should be an integer`));
      limit = Math.min(Math.floor(asked), maxLimit);
    }
    const filterText = query.get('filter');
    const filter = filterText ? parseFilter(object, filterText) : undefined;
    const keys = parseOrder(object, query.get('order_by'));
    const afterText = query.get('starting_after');
    const beforeText = query.get('ending_before');
    const after = afterText ? decodeCursor(afterText) : undefined;
    const before = !after && beforeText ? decodeCursor(beforeText) : undefined;
    limitQuery();
    const withDeleted = mentionsDeletedAt(filter);
    const rows = object
      .records()
      .filter((row) => (withDeleted || isNull(row.deletedAt)) && (!filter || matches(row, filter)))
      .sort((a, b) => compareRows(a, b, keys));
    const beyond = (row: unknown, cursor: Cursor, sign: 1 | -1) =>
      version === '2.21' ? sqlBeyond(row, cursor, keys, sign) : compareRows(row, cursor.values, keys) * sign > 0;
    let page: Record<string, unknown>[];
    let hasNextPage = false;
    let hasPreviousPage = false;
    if (before) {
      const candidates = rows.filter((row) => beyond(row, before, -1));
      page = limit === 0 ? [] : candidates.slice(-limit);
      hasPreviousPage = candidates.length > limit;
    } else {
      // Twenty asks for one record more than the limit: hasNextPage is whether it came.
      const candidates = after ? rows.filter((row) => beyond(row, after, 1)) : rows;
      page = candidates.slice(0, limit);
      hasNextPage = candidates.length > limit;
    }
    const first = page[0];
    const last = page.at(-1);
    return json(200, {
      data: { [object.plural]: page },
      totalCount: rows.length,
      pageInfo: {
        startCursor: first ? encodeCursor(first, keys) : null,
        endCursor: last ? encodeCursor(last, keys) : null,
        hasNextPage,
        hasPreviousPage,
      },
    });
  }

  /** A record query with an API key takes a token from each bucket (the second's, then the minute's), as Twenty's query runner does. */
  function limitQuery(): void {
    const at = now();
    for (const bucket of buckets) {
      if (!takeToken(bucket, at)) {
        refuse(json(429, { statusCode: 429, error: 'HttpException', messages: [`Limit reached (${bucket.max} tokens per ${bucket.windowMs} ms)`] }));
      }
    }
  }

  function findLive(object: ObjectState, id: string): Record<string, unknown> | undefined {
    if (object.uuidIds && !UUID.test(id)) refuse(badRequest(`'${id}' is not a valid UUID`));
    return object.records().find((row) => row.id === id && isNull(row.deletedAt));
  }

  // -------------------------------------------------------------------------------------------
  // Routes
  // -------------------------------------------------------------------------------------------

  const capitalized = (object: ObjectState) => object.singular.charAt(0).toUpperCase() + object.singular.slice(1);

  function parseBody(raw: string | undefined): unknown {
    if (!raw) return {};
    try {
      return JSON.parse(raw) as unknown;
    } catch (error) {
      return refuse(badRequest((error as Error).message));
    }
  }

  function metadataList(query: URLSearchParams): TwentyAnswer {
    const all = metadataObjects();
    const asked = Number(query.get('limit'));
    const limit = query.get('limit') && Number.isInteger(asked) && asked >= 0 ? asked : metadataPageSize;
    const after = query.get('starting_after');
    const rest = after ? all.filter((object) => String(object.id) < after) : all;
    const page = rest.slice(0, limit);
    return json(200, {
      data: { objects: page },
      pageInfo: { hasNextPage: rest.length > limit, startCursor: page[0]?.id ?? null, endCursor: page.at(-1)?.id ?? null },
      totalCount: all.length,
    });
  }

  function graphql(raw: string | undefined): TwentyAnswer {
    const body = parseBody(raw) as { query?: unknown; variables?: Record<string, unknown> };
    const query = typeof body.query === 'string' ? body.query : '';
    const mutation = /restore(\w+)\s*\(\s*id\s*:\s*(?:"([^"]+)"|\$(\w+))\s*\)\s*\{([^}]*)\}/.exec(query);
    const object = mutation && objects.find((candidate) => capitalized(candidate) === mutation[1]);
    if (!mutation || !object)
      return json(400, { errors: [{ message: 'The stand-in only answers restore<Object>(id) mutations', extensions: { code: 'BAD_USER_INPUT' } }] });
    const id = String(mutation[2] ?? body.variables?.[mutation[3] as string] ?? '');
    limitQuery();
    const record = object.records().find((row) => row.id === id);
    if (!record) return json(200, { errors: [{ message: 'Record not found', extensions: { code: 'NOT_FOUND' } }], data: null });
    if (!isNull(record.deletedAt)) {
      record.deletedAt = null;
      record.updatedAt = iso();
      recordEvent(object, 'restored', record, ['deletedAt']);
    }
    const selection = (mutation[4] as string).split(/[\s,]+/).filter(Boolean);
    return json(200, { data: { [`restore${mutation[1]}`]: Object.fromEntries(selection.map((name) => [name, record[name] ?? null])) } });
  }

  function route(req: IncomingMessage, path: string, query: URLSearchParams, raw: string | undefined): TwentyAnswer {
    const method = (req.method ?? 'GET').toUpperCase();
    const bearer = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer) {
      return {
        status: 403,
        body: { statusCode: 403, messages: ['Missing authentication token'], error: 'FORBIDDEN_EXCEPTION' },
        headers: { 'Content-Type': 'application/json' },
      };
    }
    if (options.apiKey !== undefined && bearer !== options.apiKey) {
      return {
        status: 401,
        body: { statusCode: 401, messages: ['Token invalid.'], error: 'UNAUTHENTICATED' },
        headers: { 'Content-Type': 'application/json' },
      };
    }
    if (path === '/graphql' && method === 'POST') return graphql(raw);
    if (path === '/rest/metadata/objects' && method === 'GET') return metadataList(query);
    if (path === '/rest/webhooks') {
      if (method === 'POST') return json(201, registerWebhook(parseBody(raw) as Record<string, unknown>));
      if (method === 'GET') return json(200, stub.webhooks);
    }
    const parts = path
      .replace(/^\/rest\/?/, '')
      .split('/')
      .filter(Boolean);
    if (parts[0] === 'batch' || parts[0] === 'metadata' || !path.startsWith('/rest/')) {
      return json(404, { statusCode: 404, error: 'NotFound', messages: [`Cannot ${method} ${path} (not in the stand-in)`] });
    }
    if (parts.length === 0 || parts.length > 2) {
      return badRequest(`Query path '${path}' invalid. Valid examples: /rest/companies/id or /rest/companies or /rest/batch/companies`);
    }
    const object = objects.find((candidate) => candidate.plural === parts[0]);
    if (!object) return badRequest(`object '${parts[0]}' not found. eg: companies`);
    const id = parts[1] === undefined ? undefined : decodeURIComponent(parts[1]);

    if (method === 'GET' && id === undefined) return list(object, query);
    if (method === 'GET') {
      if (object.uuidIds && !UUID.test(id as string)) return badRequest(`'${id}' is not a valid UUID`);
      limitQuery();
      const record = findLive(object, id as string);
      return record ? json(200, { data: { [object.singular]: record } }) : recordNotFound();
    }
    if (method === 'POST' && id === undefined) {
      const body = checkWrite(object, parseBody(raw));
      limitQuery();
      const existing = query.get('upsert') === 'true' && typeof body.id === 'string' ? findLive(object, body.id) : undefined;
      if (existing) {
        const changed = update(object, existing, body);
        recordEvent(object, 'updated', existing, changed);
        return json(201, { data: { [`create${capitalized(object)}`]: existing } });
      }
      const record = create(object, body);
      recordEvent(object, 'created', record);
      return json(201, { data: { [`create${capitalized(object)}`]: record } });
    }
    if ((method === 'PATCH' || method === 'PUT') && id !== undefined) {
      const body = checkWrite(object, parseBody(raw));
      limitQuery();
      const record = findLive(object, id);
      if (!record) return recordNotFound();
      const changed = update(object, record, body);
      recordEvent(object, 'updated', record, changed);
      return json(200, { data: { [`update${capitalized(object)}`]: record } });
    }
    if (method === 'DELETE' && id !== undefined) {
      if (object.uuidIds && !UUID.test(id)) return badRequest(`'${id}' is not a valid UUID`);
      limitQuery();
      const rows = object.records();
      const record = rows.find((row) => row.id === id);
      const soft = query.get('soft_delete') === 'true';
      if (!record || (soft && !isNull(record.deletedAt))) return recordNotFound();
      if (soft) {
        record.deletedAt = iso();
        record.updatedAt = record.deletedAt;
        recordEvent(object, 'deleted', record, ['deletedAt']);
        return json(200, { data: { [`delete${capitalized(object)}`]: record } });
      }
      rows.splice(rows.indexOf(record), 1);
      recordEvent(object, 'destroyed', record);
      return json(200, { data: { [`delete${capitalized(object)}`]: { id } } });
    }
    return json(404, { statusCode: 404, error: 'NotFound', messages: [`Cannot ${method} ${path}`] });
  }

  // -------------------------------------------------------------------------------------------
  // Metadata writes (as a test's step): a field added to the listing object
  // -------------------------------------------------------------------------------------------

  const views = { table: 0, other: 0 };
  views.table = listing.fields.filter((field) => !SYSTEM_NAMES.has(field.name)).length - 1;
  views.other = views.table + 1;

  function addField(name: string, spec: TwentyFieldType | TwentyFieldSpec): Record<string, unknown> {
    const [def] = fieldDefs({ [name]: spec }) as [FieldDef];
    const at = iso();
    def.createdAt = at;
    listing.fields.push(def);
    const metadata = fieldMetadata(listing, def, workspaceId);
    for (const record of stub.records) if (!(name in record)) record[name] = RELATIONS.has(def.type) ? undefined : emptyValue(def);
    const envelope = (metadataName: string, recordId: string, after: Record<string, unknown>) => ({
      workspaceId,
      webhookId: undefined,
      eventDate: at,
      apiKeyId,
      event: { type: 'created', recordId, metadataName, properties: { after } },
    });
    const fieldId = String(metadata.id);
    emit(
      'metadata.fieldMetadata.created',
      envelope('fieldMetadata', fieldId, {
        isSystemSideEffect: false,
        defaultValue: def.defaultValue ?? null,
        description: null,
        icon: null,
        isActive: true,
        isLabelSyncedWithName: false,
        isUnique: false,
        label: def.label,
        name,
        options: def.options ?? null,
        overrides: null,
        settings: null,
        objectMetadataId: listing.header.id,
        type: def.type,
        isSystem: false,
        isUIEditable: true,
        isNullable: true,
        relationTargetFieldMetadataId: null,
        relationTargetObjectMetadataId: null,
        morphId: null,
        createdAt: at,
        updatedAt: at,
        id: fieldId,
        workspaceId,
        applicationId: CUSTOM_APPLICATION_ID,
        universalIdentifier: metadata.universalIdentifier,
      }),
    );
    for (const [view, isVisible] of [
      ['table', true],
      ['other', false],
    ] as const) {
      const id = stableUuid('view-field', fieldId, view);
      emit(
        'metadata.viewField.created',
        envelope('viewField', id, {
          isSystemSideEffect: true,
          isVisible,
          size: 180,
          position: views[view]++,
          aggregateOperation: null,
          viewFieldGroupId: null,
          deletedAt: null,
          createdAt: at,
          updatedAt: at,
          fieldMetadataId: fieldId,
          viewId: stableUuid('view', String(listing.header.id), view),
          isActive: true,
          overrides: null,
          id,
          workspaceId,
          applicationId: CUSTOM_APPLICATION_ID,
          universalIdentifier: stableUuid('universal', id),
        }),
      );
    }
    return metadata;
  }

  // -------------------------------------------------------------------------------------------
  // The server
  // -------------------------------------------------------------------------------------------

  const stub: TwentyStub = {
    url: '',
    requests: [],
    records,
    webhooks: [],
    deliveries: [],
    webhookSafeMode: options.webhookSafeMode ?? false,
    respond: (req, path, query, body) => {
      try {
        return route(req, path, query, body ?? bodies.get(req));
      } catch (error) {
        if (error instanceof Refusal) return error.answer;
        throw error;
      }
    },
    waitForDeliveries: (count = stub.deliveries.length + 1, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (stub.deliveries.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(stub.deliveries);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${stub.deliveries.length} webhook deliveries after ${timeoutMs} ms, ${count} awaited`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    addField,
    close: async () => undefined,
  };
  for (const hook of options.webhooks ?? []) registerWebhook({ ...hook });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = chunks.length > 0 ? Buffer.concat(chunks).toString('utf8') : undefined;
      if (raw !== undefined) bodies.set(req, raw);
      const url = new URL(req.url ?? '/', 'http://stub');
      stub.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, authorization: req.headers.authorization, body: raw });
      let answer: TwentyAnswer;
      try {
        answer = stub.respond(req, url.pathname, url.searchParams, raw);
      } catch (error) {
        answer = json(500, { statusCode: 500, error: 'InternalServerError', messages: [(error as Error).message] });
      }
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'Content-Type': 'application/json; charset=utf-8', ...answer.headers });
        res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
  });
  // Twenty keeps idle connections 65 s (Keep-Alive: timeout=65): a client reusing one never races its close.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      agent.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return stub;
}
