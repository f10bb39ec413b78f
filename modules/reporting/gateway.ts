/**
 * Public contract of the reporting module (bounded context: sales figures for owners and
 * managers). It offers nothing to other modules: it only listens to their domain events
 * (OrderPaid, OrderCancelled, StockLevelChanged) and answers HTTP reports.
 */
export interface ReportingGateway {}
