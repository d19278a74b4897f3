const KIB = 1024;
const MIB = 1024 * KIB;

/** "25 MB", "1.5 MB", "300 KB", "12 bytes" (binary units, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (bytes >= MIB) return `${trimZero((bytes / MIB).toFixed(1))} MB`;
  if (bytes >= KIB) return `${Math.round(bytes / KIB)} KB`;
  return `${bytes} bytes`;
}

/** "40 MP", "12.2 MP" */
export function formatMegapixels(pixels: number): string {
  return `${trimZero((pixels / 1_000_000).toFixed(1))} MP`;
}

function trimZero(fixed: string): string {
  return fixed.endsWith('.0') ? fixed.slice(0, -2) : fixed;
}
