/**
 * W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header):
 * `<version>-<trace-id>-<parent-id>-<flags>`, lower-case hex, e.g.
 * `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
 * The known fields, anchored at the start: a later version may only append `-<more>` after them
 * (§ "Versioning of traceparent"), so nothing past the flags is ever read.
 */
const KNOWN_FIELDS = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/;
/** The one version this service understands, and the only one it passes on. */
const VERSION = '00';
/** Length of a version-00 traceparent: exactly its four fields. */
const VERSION_00_LENGTH = 55;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_PARENT_ID = '0'.repeat(16);

/**
 * The caller's `traceparent` when it is valid, else undefined (the spec says to ignore an
 * invalid one rather than fail the request). Version `ff` and all-zero ids are invalid;
 * version `00` has exactly four fields. A later version is parsed as the spec asks of a
 * version-00 reader: its trace id, parent id and flags are kept, followed by the end or a
 * dash; whatever it appends is dropped and the result is version `00`, the version we send
 * (OpenTelemetry's propagator does the same). So no caller-chosen text beyond those 55
 * characters is ever logged, stored in a job or forwarded to the provider.
 * @example parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01') // the same string
 * @example parseTraceparent('cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever')
 *   // '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
 */
export function parseTraceparent(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  const match = KNOWN_FIELDS.exec(value);
  if (!match) return undefined;
  const [, version, traceId, parentId, flags] = match;
  if (version === 'ff' || traceId === ZERO_TRACE_ID || parentId === ZERO_PARENT_ID) return undefined;
  if (version === VERSION) return value.length === VERSION_00_LENGTH ? value : undefined;
  return `${VERSION}-${traceId}-${parentId}-${flags}`;
}
