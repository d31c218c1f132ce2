"""Writes the bench:decode inputs into the directory given as argument: one 4096 x 4096 UInt16
band, tiled 512 x 512 with predictor 2 as COGs are, once per compression (DEFLATE, LZW, ZSTD).
The pixels are a Sentinel-2 NIR band (test/fixtures/s2_nir_256.tif) upsampled bilinearly, with
Gaussian noise of 30 DN so that the files compress like real 10 m bands, not like flat fields.

Run with a Python that has GDAL's bindings (Debian: python3-gdal).
"""
import os
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()
out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
src = gdal.Open(os.path.join(here, '../test/fixtures/s2_nir_256.tif')).ReadAsArray().astype(np.float64)
n = 4096
x = np.linspace(0, src.shape[0] - 1, n)
i0 = np.floor(x).astype(int); i1 = np.minimum(i0 + 1, src.shape[0] - 1); f = x - i0
rows = src[i0, :] * (1 - f)[:, None] + src[i1, :] * f[:, None]
img = rows[:, i0] * (1 - f)[None, :] + rows[:, i1] * f[None, :]
img = np.clip(img + np.random.default_rng(1).normal(0, 30, img.shape), 1, 65535).astype(np.uint16)
for compression in ['DEFLATE', 'LZW', 'ZSTD']:
    ds = gdal.GetDriverByName('GTiff').Create(os.path.join(out, f'{compression.lower()}.tif'), n, n, 1, gdal.GDT_UInt16,
        ['TILED=YES', 'BLOCKXSIZE=512', 'BLOCKYSIZE=512', f'COMPRESS={compression}', 'PREDICTOR=2'])
    ds.GetRasterBand(1).WriteArray(img)
    ds = None
