/**
 * Public contract of the reporting module (bounded context: sales figures for owners and
 * managers). It offers nothing to other modules and publishes no event: it only listens to their
 * domain events (OrderPaid, OrderCancelled, StockLevelChanged, StockTrackingStopped) and answers
 * HTTP reports. The file stays so that every module has the same shape: when reporting offers
 * something, it is declared here.
 */
export {};
