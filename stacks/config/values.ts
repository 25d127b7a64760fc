/**
 * The kinds of value a config key can hold, each a zod schema from the raw config string (what
 * `pulumi config` stores) to the typed value. Every check's message says what is allowed, and
 * its `why` (params) explains where that is not obvious: the reader turns them into
 * "rayswarm:<key> must be <allowed> (got <value>): <why>". `allowed` is the one-line summary the
 * README's config reference shows.
 */
import { z } from "zod";
import { ipv4, isPrivate, parseCidr } from "../network";

/** How a key is declared in Pulumi.yaml. `object` keys cannot be typed there (Pulumi only types
 * string/integer/boolean/array) and are validated by the program alone. */
export type PulumiType = "string" | "integer" | "boolean" | "array" | "object";

export interface Value<T> {
  readonly type: PulumiType;
  /** What is allowed, in words: "a whole number from 0 to 100". */
  readonly allowed: string;
  /** Raw config string -> typed value; one issue per problem, its message what is allowed. */
  readonly schema: z.ZodType<T, string>;
}

/** One check: the value passes, or it must be `allowed` (with `why`, when given). */
export type Check<T> = readonly [ok: (v: T) => boolean, allowed: string | ((v: T) => string), why?: (v: T) => string | undefined];

/** Runs checks in order and reports the first that fails (one problem per key). */
function checked<T>(schema: z.ZodType<T, string>, checks: readonly Check<T>[]): z.ZodType<T, string> {
  if (checks.length === 0) return schema;
  // A pipe: the checks run only on a value that passed the schema.
  const rules = z.custom<T>().check((ctx) => {
    for (const [ok, allowed, why] of checks) {
      if (ok(ctx.value)) continue;
      const message = typeof allowed === "string" ? allowed : allowed(ctx.value);
      ctx.issues.push({ code: "custom", message, input: ctx.value, params: { why: why?.(ctx.value) } });
      return;
    }
  });
  return schema.pipe(rules) as unknown as z.ZodType<T, string>;
}

/** More checks on a value kind (run after its own). */
export function refined<T>(value: Value<T>, ...checks: Check<T>[]): Value<T> {
  const more = checks.map(([, allowed]) => allowed).filter((a): a is string => typeof a === "string");
  return { ...value, allowed: [value.allowed, ...more].join(", "), schema: checked(value.schema, checks) };
}

/** A string: the first failing check names what is allowed. */
export function text(allowed: string, ...checks: Check<string>[]): Value<string> {
  return { type: "string", allowed, schema: checked(z.string(), checks) };
}

/** A string matching `re` (tested on the value as given). */
export function matching(re: RegExp, allowed: string): Value<string> {
  return text(allowed, [(v) => re.test(v), allowed]);
}

export const nonEmpty: Value<string> = text("a non-empty string", [(v) => v.trim() !== "", "a non-empty string"]);

/** A whole number from `min` to `max`: "two" is shown as given, -1 as the number it is. */
export function integer(min: number, max: number): Value<number> {
  const allowed = `a whole number from ${min} to ${max}`;
  const schema = z
    .string()
    .regex(/^\s*-?\d+\s*$/, { error: allowed })
    .transform(Number)
    .pipe(z.number().min(min, { error: allowed }).max(max, { error: allowed }));
  return { type: "integer", allowed, schema };
}

export const boolean: Value<boolean> = {
  type: "boolean",
  allowed: "true or false",
  schema: z
    .string()
    .refine((v) => v === "true" || v === "false", { error: "true or false" })
    .transform((v) => v === "true"),
};

export function oneOf<const T extends readonly [string, ...string[]]>(choices: T): Value<T[number]> {
  const allowed = `one of ${choices.join(", ")}`;
  return { type: "string", allowed, schema: z.enum(choices, { error: allowed }) as unknown as z.ZodType<T[number], string> };
}

/** JSON (how Pulumi passes lists and objects to the program); a plain string stays a string. */
function json<T>(inner: z.ZodType<T>): z.ZodType<T, string> {
  return z
    .string()
    .transform((s): unknown => {
      try {
        return JSON.parse(s);
      } catch {
        return s; // a plain string where a list or object is expected
      }
    })
    .pipe(inner) as unknown as z.ZodType<T, string>;
}

/** A list of strings, each passing `ok`; a bad one is reported with the whole list. */
export function list(allowed: string, ok: (item: string) => boolean): Value<string[]> {
  const inner = z.custom<string[]>((v) => Array.isArray(v) && v.every((x) => typeof x === "string" && ok(x)), { error: allowed });
  return { type: "array", allowed, schema: json(inner) };
}

/** A JSON object or list validated by `inner` (issues keep their path: hosts[3].roles.0). */
export function structured<T>(allowed: string, inner: z.ZodType<T>): Value<T> {
  return { type: "object", allowed, schema: json(inner) };
}

// ---------- the kinds this project's keys use ----------

const OPENSSH_KEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/;

export const unixUser = matching(/^[a-z_][a-z0-9_-]{0,31}$/, "a Unix user name");
export const publicKey = text("an OpenSSH public key line", [
  (v) => OPENSSH_KEY_RE.test(v.trim()),
  "an OpenSSH public key line (ssh-ed25519 AAAA... or ssh-rsa AAAA...)",
]);
export const hostKeyLine = z.string().regex(OPENSSH_KEY_RE, "an OpenSSH public host key line");
export const privateKey = matching(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM/OpenSSH private key");

export const adminCidr = text(
  "an IPv4 CIDR narrower than /0",
  [(v) => parseCidr(v) !== undefined, "an IPv4 CIDR such as 203.0.113.7/32"],
  [(v) => parseCidr(v)?.prefix !== 0, "a CIDR narrower than /0", () => "SSH must not be open to the whole internet"],
);

export const networkCidr = text(
  "a private (RFC 1918) IPv4 network CIDR from /16 to /27",
  [(v) => parseCidr(v) !== undefined, "an IPv4 network CIDR with no host bits set, such as 10.42.0.0/24"],
  [(v) => isPrivateCidr(v), "a private (RFC 1918) CIDR: 10/8, 172.16/12 or 192.168/16"],
  [(v) => (parseCidr(v)?.prefix ?? 0) >= 16 && (parseCidr(v)?.prefix ?? 0) <= 27, "a CIDR from /16 to /27"],
);

function isPrivateCidr(v: string): boolean {
  const c = parseCidr(v);
  return c !== undefined && isPrivate(c.base, c.prefix);
}

export const ipv4List = list("a list of IPv4 addresses", (d) => ipv4.safeParse(d).success);

export const version = matching(/^\d+\.\d+(\.\d+)?$/, "a version such as 2.60.0");
export const versionPrefix = matching(/^\d+\.\d+(\.\d+)?$/, "a version prefix such as 20.10 or 26.1.5");
export const exactVersion = matching(/^\d+\.\d+\.\d+$/, "an exact version such as 2.42.0 (the upstream part of the Debian package's)");

export const image = matching(
  /^[a-z0-9]+([._/-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/,
  "a Docker image reference such as redis:7.4 or registry/name:tag",
);

export const tarballList = list("a list of paths to .tar files made by `docker save`", (t) => t.endsWith(".tar"));

export const absolutePath = text("an absolute path without spaces or ..", [
  (v) => /^\/[A-Za-z0-9._/-]+$/.test(v) && !v.includes(".."),
  "an absolute path without spaces or ..",
]);

export const hostFolder = text("an absolute path without spaces or colons", [
  (v) => v.startsWith("/") && !/[\s:]/.test(v),
  "an absolute path without spaces or colons",
]);

export const fraction = matching(/^0(\.\d{1,6})?$/, "a fraction from 0 to 0.999999 such as 0.005");

export const duration = matching(
  /^\d+(ms|s|m|h|d|w|y)$/,
  "a Prometheus duration such as 15d, 12h or 2w (a number and one of ms, s, m, h, d, w, y)",
);

export const webhookUrl = matching(/^https?:\/\/[^\s"\\]+$/, "an http(s) URL without spaces, quotes or backslashes");

export const networkId = matching(/^[A-Za-z0-9-]{1,64}$/, "a network id (letters, digits and dashes)");
