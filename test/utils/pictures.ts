import sharp from 'sharp';

// Photo-like test pictures drawn per pixel, for the similar-images specs (local disk and S3).

export const WIDTH = 480;
export const HEIGHT = 360;

/** A photo-like RGB picture: smooth gradients and a few shapes, drawn by `paint` per pixel. */
export function picture(paint: (x: number, y: number) => [number, number, number]): Promise<Buffer> {
  const pixels = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y += 1) {
    for (let x = 0; x < WIDTH; x += 1) {
      const [r, g, b] = paint(x, y);
      const at = (y * WIDTH + x) * 3;
      pixels[at] = r;
      pixels[at + 1] = g;
      pixels[at + 2] = b;
    }
  }
  return sharp(pixels, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .png()
    .toBuffer();
}

const clamp = (value: number) => Math.max(0, Math.min(255, Math.round(value)));

/** A sunset: a sky gradient, a sun, a dark hill. */
export const sunset = (x: number, y: number): [number, number, number] => {
  if ((x - 330) ** 2 + (y - 110) ** 2 < 55 ** 2) return [250, 220, 90];
  if (y > 250 + 40 * Math.sin(x / 60)) return [40, 70 + (x % 7), 35];
  return [clamp(80 + y * 0.5), clamp(60 + y * 0.3), clamp(200 - y * 0.4)];
};

/** A room: a vertical wall gradient, a dark window on the left, a bright table at the bottom right. */
export const room = (x: number, y: number): [number, number, number] => {
  if (x > 40 && x < 170 && y > 40 && y < 200) return [20, 30, 60];
  if (x > 260 && y > 260) return [230, 200, 160];
  return [clamp(220 - x * 0.35), clamp(190 - x * 0.3), clamp(150 - x * 0.2)];
};

/** Stripes: diagonal bands. */
export const stripes = (x: number, y: number): [number, number, number] => {
  const band = Math.floor((x + y) / 60) % 2 === 0;
  return band ? [200, 40, 40] : [30, 30, 30];
};
