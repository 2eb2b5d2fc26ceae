// A strict reader for WeCom's flat XML (`<xml><Name><![CDATA[value]]></Name>…</xml>`): one level of fields, no attributes.
import { ClawError } from "../../../core/errors.js";

const entities: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function refuse(message: string): never {
  throw new ClawError("bad_request", `The XML body is malformed: ${message}.`);
}

function decodeText(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith("#x")) return codePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return codePoint(Number.parseInt(name.slice(1), 10));
    return entities[name] ?? refuse(`unknown entity ${whole}`);
  });
}

function codePoint(value: number): string {
  if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) refuse("bad character reference");
  return String.fromCodePoint(value);
}

/**
 * Reads `<xml>` with child elements holding text or one CDATA section each (what WeCom sends, inner and outer):
 * returns name → value. Anything else (nesting, attributes, duplicates, trailing junk) is refused with bad_request.
 */
export function readFlatXml(xml: string): Record<string, string> {
  const body = xml.replace(/^\uFEFF/, "").replace(/^\s*<\?xml[^?]*\?>/, "").trim();
  const outer = /^<xml>([\s\S]*)<\/xml>$/.exec(body);
  if (!outer) refuse("expected one <xml> element");
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const field = /\s*<([A-Za-z_][A-Za-z0-9_]{0,63})>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1>\s*/y;
  const inner = outer[1]!;
  let count = 0;
  while (field.lastIndex < inner.length) {
    const start = field.lastIndex;
    const match = field.exec(inner);
    if (!match) {
      if (/^\s*$/.test(inner.slice(start))) break;
      refuse(`unexpected content at offset ${start}`);
    }
    const name = match[1]!;
    if (name in fields) refuse(`duplicate field ${name}`);
    if (++count > 64) refuse("too many fields");
    fields[name] = match[2] ?? decodeText(match[3] ?? "");
  }
  return fields;
}

/** Escapes text for an XML element (the simulator's and tests' own messages). */
export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (character) => `&${({ "<": "lt", ">": "gt", "&": "amp", "'": "apos", '"': "quot" } as Record<string, string>)[character]};`);
}
