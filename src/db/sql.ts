/** The helpers every statement module shares: timestamps, JSON columns and IN lists. */

export const now = () => new Date().toISOString();

export function parseJson<T>(text: unknown): T | null {
	return typeof text === "string" ? (JSON.parse(text) as T) : null;
}

/**
 * `?, ?, ?` for an IN list. It is the only text ever spliced into SQL (the lint rule in
 * lint/no-string-built-sql.grit allows nothing else), so every value stays a bound parameter.
 */
export function placeholders(values: readonly unknown[]): string {
	return values.map(() => "?").join(", ");
}
