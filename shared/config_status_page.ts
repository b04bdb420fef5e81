/**
 * The `status_page:` part of `tasks.yaml`: what the public page at
 * `/status` and the public badges show. Only the targets listed here are
 * public; everything else stays behind the API's token. `config.ts` calls
 * {@linkcode readStatusPage} while it walks the document, so a mistake is a
 * `ConfigError` at its file, line and field.
 *
 * ```yaml
 * status_page:
 *   title: Example Inc. status     # optional, default "Status"
 *   groups:
 *     - name: Website
 *       targets: [www, api]
 *     - name: Mail
 *       targets: mail              # one target or a list
 * ```
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const c = parseConfig(
 *   "monitors: [{address: 'h:1'}]\ntargets: {web: {TCP: {port: 80}}}\n" +
 *     "status_page: {title: Acme, groups: [{name: Web, targets: [web]}]}\n",
 *   "tasks.yaml",
 * );
 * console.assert(c.statusPage?.groups[0]?.targets[0] === "web");
 * ```
 *
 * @module
 */
import { isScalar, isSeq, type Node } from "yaml";
import type { YamlEntry, YamlReader } from "./config_alerts.ts";

/**
 * One group of the status page: a heading and its targets, in file order.
 *
 * @example
 * ```ts
 * import type { StatusGroup } from "./config_status_page.ts";
 * const g: StatusGroup = { name: "Website", targets: ["www"] };
 * ```
 */
export interface StatusGroup {
  name: string;
  targets: string[];
}

/**
 * The public status page as configured.
 *
 * @example
 * ```ts
 * import type { StatusPageConfig } from "./config_status_page.ts";
 * const page: StatusPageConfig = { title: "Status", groups: [] };
 * ```
 */
export interface StatusPageConfig {
  title: string;
  groups: StatusGroup[];
}

const PAGE_KEYS = ["title", "groups"];
const GROUP_KEYS = ["name", "targets"];
const MAX_TITLE_CHARS = 120;

/**
 * Reads `status_page:`; every target it names must be one of `targets`.
 *
 * @example
 * ```ts ignore
 * const page = readStatusPage(reader, entry, ["web", "db"]);
 * ```
 */
export function readStatusPage(
  r: YamlReader,
  entry: YamlEntry,
  targets: readonly string[],
): StatusPageConfig {
  const start = entry.keyNode.range?.[0] ?? 0;
  const entries = r.entries(entry.value, "status_page", start);
  r.onlyKeys(entries, "status_page", PAGE_KEYS, "status_page key");
  const get = (k: string) => entries.find((e) => e.key === k);
  const titleEntry = get("title");
  const title = titleEntry
    ? r.text(titleEntry.value, "status_page.title", titleEntry.keyNode.range?.[0] ?? start)
    : "Status";
  if (title.length > MAX_TITLE_CHARS) {
    r.fail(titleEntry?.value, "status_page.title", `must be at most ${MAX_TITLE_CHARS} characters`);
  }
  const groupsEntry = get("groups");
  if (!groupsEntry) {
    r.fail(
      entry.keyNode,
      "status_page.groups",
      "is required: list the groups, e.g. groups: [{name: Website, targets: [web]}]",
    );
  }
  const list = groupsEntry.value;
  if (!isSeq(list) || list.items.length === 0) {
    r.fail(
      list ?? groupsEntry.keyNode,
      "status_page.groups",
      "must be a list of at least one group (- name: ..., targets: [...])",
    );
  }
  const names = new Set<string>();
  const groups = list.items.map((item, i) => {
    const field = `status_page.groups[${i}]`;
    const at = (item as Node | null)?.range?.[0] ?? list.range?.[0] ?? start;
    const group = r.entries(item as Node | null, field, at);
    r.onlyKeys(group, field, GROUP_KEYS, "group key");
    const nameEntry = group.find((e) => e.key === "name");
    if (!nameEntry) r.fail(item as Node, `${field}.name`, "is required", at);
    const name = r.text(nameEntry.value, `${field}.name`, at);
    if (names.has(name)) r.fail(nameEntry.value, `${field}.name`, `"${name}" is already a group`);
    names.add(name);
    const targetsEntry = group.find((e) => e.key === "targets");
    if (!targetsEntry) {
      r.fail(item as Node, `${field}.targets`, "is required: list the targets to show", at);
    }
    const seen = new Set<string>();
    const picked = r.textList(targetsEntry.value, `${field}.targets`, at).map(
      ({ value, node }) => {
        if (!targets.includes(value)) {
          r.fail(node, `${field}.targets`, `no target is named "${value}"`);
        }
        if (seen.has(value)) r.fail(node, `${field}.targets`, `"${value}" is listed twice`);
        seen.add(value);
        return value;
      },
    );
    if (picked.length === 0 && !isScalar(targetsEntry.value)) {
      r.fail(targetsEntry.value, `${field}.targets`, "must list at least one target");
    }
    return { name, targets: picked };
  });
  return { title, groups };
}

/**
 * Whether `target` is shown on the status page (and so public).
 *
 * @example
 * ```ts
 * import { isPublicTarget } from "./config_status_page.ts";
 * const page = { title: "S", groups: [{ name: "Web", targets: ["web"] }] };
 * console.assert(isPublicTarget(page, "web") && !isPublicTarget(page, "db"));
 * ```
 */
export function isPublicTarget(page: StatusPageConfig | undefined, target: string): boolean {
  return page?.groups.some((g) => g.targets.includes(target)) ?? false;
}
