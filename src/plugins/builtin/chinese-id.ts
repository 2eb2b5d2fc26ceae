// Chinese resident identity numbers (GB 11643-1999): 17 digits and a check digit (0-9 or X) computed mod 11.
const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const checkCharacters = "10X98765432";

/** The check character for the first 17 digits. */
export function chineseIdCheckCharacter(first17: string): string {
  if (!/^[0-9]{17}$/.test(first17)) throw new TypeError("expected 17 digits");
  let sum = 0;
  for (let index = 0; index < 17; index += 1) sum += Number(first17[index]) * (weights[index] as number);
  return checkCharacters[sum % 11] as string;
}

/** Whether the text is an 18-character resident ID number whose check character is right (x counts as X). */
export function isValidChineseId(text: string): boolean {
  if (!/^[1-9][0-9]{16}[0-9Xx]$/.test(text)) return false;
  return chineseIdCheckCharacter(text.slice(0, 17)) === text.slice(17).toUpperCase();
}
