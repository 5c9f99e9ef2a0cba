/**
 * A model file that cannot be read or written: the message names the file and, where one is
 * to blame, the tensor (or config field), so the user knows exactly what to fix.
 */
export class ModelFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(tensor === undefined ? `${file}: ${message}` : `${file}: tensor '${tensor}': ${message}`);
    this.name = 'ModelFileError';
  }
}
