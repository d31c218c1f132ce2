/** The API's version: the contract's (openapi/v1.json `info.version`), GET /v1/health's, and the software's in a result's STAC Item. */
export const API_VERSION = "1.1.0";
