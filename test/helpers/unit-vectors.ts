// Seeded unit vectors and their cosine, for tests of vector search against brute force.

/** A unit vector of `dimensions` uniformly on the sphere (Box–Muller normals, normalized), from `random`. */
export function unitVector(random: () => number, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (let index = 0; index < dimensions; index += 1) {
    vector[index] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  }
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
  return vector.map((value) => value / norm);
}

/** The cosine of two unit vectors: their dot product. */
export function cosine(left: Float32Array, right: Float32Array): number {
  let dot = 0;
  for (let index = 0; index < left.length; index += 1) dot += (left[index] as number) * (right[index] as number);
  return dot;
}
