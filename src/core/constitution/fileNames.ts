/** Constitution files are recognised by name: `*.constitution.yaml`, `.yml` or `.json`. */
export const CONSTITUTION_FILE = /\.constitution\.(ya?ml|json)$/i;

export function isConstitutionFile(pathOrName: string): boolean {
  return CONSTITUTION_FILE.test(pathOrName);
}
