/**
 * A small tmpfs for tests of a full disk: mounted in a fresh directory,
 * filled to the last byte with a junk file, freed again, and unmounted when
 * disposed. Needs root.
 *
 * @example
 * ```ts ignore
 * import { smallDisk } from "./full_disk.ts";
 * await using disk = await smallDisk(2048);
 * await disk.fill();
 * await disk.free();
 * ```
 *
 * @module
 */

/** A mounted tmpfs and its junk file. */
export interface SmallDisk extends AsyncDisposable {
  /** The mount point. */
  path: string;
  /** Writes a junk file until the disk is full. */
  fill(): Promise<void>;
  /** Removes the junk file. */
  free(): Promise<void>;
}

/** Mounts a tmpfs of `sizeKb` KiB on a fresh temporary directory. */
export async function smallDisk(sizeKb: number): Promise<SmallDisk> {
  const path = await Deno.makeTempDir({ prefix: "netmon-disk-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${sizeKb}k`, "tmpfs", path],
    stderr: "piped",
  }).output();
  if (!mount.success) {
    await Deno.remove(path);
    throw new Error(`mount tmpfs on ${path}: ${new TextDecoder().decode(mount.stderr)}`);
  }
  const junk = `${path}/junk`;
  return {
    path,
    async fill() {
      const f = await Deno.open(junk, { write: true, create: true, append: true });
      const block = new Uint8Array(4096);
      try {
        // bounded: a tmpfs holds at most sizeKb / 4 blocks
        for (let i = 0; i <= sizeKb / 4; i++) await f.write(block);
      } catch (e) {
        if (!/No space left/.test(String(e))) {
          throw e;
        }
      } finally {
        f.close();
      }
    },
    async free() {
      await Deno.remove(junk).catch(() => {});
    },
    async [Symbol.asyncDispose]() {
      await new Deno.Command("umount", { args: ["-l", path] }).output();
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}
