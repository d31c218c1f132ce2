"""Writes the bench:scene inputs into the directory given as argument: a red and a NIR band of
a whole Sentinel-2 10 m scene, 10980 x 10980 UInt16, as Cloud-Optimized GeoTIFFs the way the
archives publish them (GDAL's COG driver, Deflate with predictor 2, 1024 x 1024 tiles, internal
overviews, nodata 0, UTM 33N at 10 m). The pixels are test/fixtures/s2_{red,nir}_256.tif
upsampled bilinearly, with Gaussian noise of 30 DN so that the files compress like real bands.

Run with a Python that has GDAL's bindings (Debian: python3-gdal).
"""
import os
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()
out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
n = 10980
rng = np.random.default_rng(1)
for band in ['red', 'nir']:
    source = gdal.Open(os.path.join(here, f'../test/fixtures/s2_{band}_256.tif'))
    src = source.ReadAsArray().astype(np.float64)
    x = np.linspace(0, src.shape[0] - 1, n)
    i0 = np.floor(x).astype(int); i1 = np.minimum(i0 + 1, src.shape[0] - 1); f = x - i0
    plain = os.path.join(out, f'{band}.plain.tif')
    ds = gdal.GetDriverByName('GTiff').Create(plain, n, n, 1, gdal.GDT_UInt16, ['TILED=YES', 'BIGTIFF=NO'])
    gt = list(source.GetGeoTransform())
    ds.SetGeoTransform(gt); ds.SetProjection(source.GetProjection())
    ds.GetRasterBand(1).SetNoDataValue(0)
    step = 1098
    for y in range(0, n, step):
        rows = src[i0[y:y + step], :] * (1 - f[y:y + step])[:, None] + src[i1[y:y + step], :] * f[y:y + step][:, None]
        img = rows[:, i0] * (1 - f)[None, :] + rows[:, i1] * f[None, :]
        img = np.clip(img + rng.normal(0, 30, img.shape), 1, 65535).astype(np.uint16)
        ds.GetRasterBand(1).WriteArray(img, 0, y)
    ds = None
    gdal.Translate(os.path.join(out, f'{band}.tif'), plain, format='COG',
                   creationOptions=['COMPRESS=DEFLATE', 'PREDICTOR=YES', 'BLOCKSIZE=1024', 'NUM_THREADS=ALL_CPUS'])
    os.remove(plain)
