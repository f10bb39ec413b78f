/**
 * Public contract of the reporting module (bounded context: sales figures for owners and
 * managers). It offers nothing to other modules yet; it reads the orders gateway.
 */
export interface ReportingGateway {}
