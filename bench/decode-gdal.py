"""GDAL's side of bench:decode: reads the first ROWS rows of band 1 of each bench file, one
thread, as the bench's own reads do (open the file, read the window into a new array), and
says how long each read took.

Run as a child of bench/decode.bench.ts: `decode-gdal.py DIRECTORY ROWS`, then one JSON command
per line on stdin, one JSON answer per line on stdout, so the bench can time GDAL and EO Edge
in turns under the same load:
  {"load": "deflate"}           copies DIRECTORY/deflate.tif into GDAL's memory file system
                                (EO Edge reads from memory too), writes the window's pixels as
                                GDAL decodes them to DIRECTORY/deflate.gdal.raw (native order),
                                answers {"width": W, "rows": R, "dtype": "uint16",
                                "gdal": its version}
  {"time": "deflate", "runs": N} answers {"ms": [...]}: N reads, wall time of each

Run with a Python that has GDAL's bindings (Debian: python3-gdal).
"""
import json
import os
import sys
import time

# One thread, whatever the environment says; set before GDAL reads its configuration.
os.environ['GDAL_NUM_THREADS'] = '1'
from osgeo import gdal  # noqa: E402

gdal.UseExceptions()
gdal.SetConfigOption('GDAL_NUM_THREADS', '1')
directory, rows = sys.argv[1], int(sys.argv[2])


def memory_path(name):
    return f'/vsimem/bench-decode/{name}.tif'


# The arrays reads decode into, one per file, as EO Edge's reads copy into one array per file.
destinations = {}


def read(name):
    dataset = gdal.Open(memory_path(name))
    band = dataset.GetRasterBand(1)
    window = destinations.get(name)
    if window is None:
        window = destinations[name] = band.ReadAsArray(0, 0, dataset.RasterXSize, rows)
    else:
        band.ReadAsArray(0, 0, dataset.RasterXSize, rows, buf_obj=window)
    dataset = None  # closing drops its cached blocks: every read decodes again
    return window


for line in sys.stdin:
    command = json.loads(line)
    if 'load' in command:
        name = command['load']
        with open(os.path.join(directory, f'{name}.tif'), 'rb') as source:
            gdal.FileFromMemBuffer(memory_path(name), source.read())
        window = read(name)
        window.tofile(os.path.join(directory, f'{name}.gdal.raw'))
        answer = {
            'width': int(window.shape[1]),
            'rows': int(window.shape[0]),
            'dtype': str(window.dtype),
            'gdal': gdal.__version__,
        }
    else:
        name = command['time']
        times = []
        for _ in range(int(command['runs'])):
            start = time.perf_counter()
            read(name)
            times.append((time.perf_counter() - start) * 1000)
        answer = {'ms': times}
    print(json.dumps(answer), flush=True)
