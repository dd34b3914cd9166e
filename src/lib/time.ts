/** The guide's timestamp format: UTC ISO 8601 without milliseconds, e.g. 2024-11-24T12:00:00Z. */
export function formatTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function formatOptionalTime(epochMs: number | null | undefined): string | null {
  return epochMs == null ? null : formatTime(epochMs);
}
