export { startNotifier, type Notifier, type NotifierDeps } from './notifier.ts';
export { messageOf, webhookBody, slackBody, AuditEventRow, type Message, type WebhookBody, type SlackBody } from './messages.ts';
export { DeliveryError, postMessage, bodyFor } from './send.ts';
export { DeliveryStatus, DELIVERY_STATUSES, DeliveryView, listDeliveries, requeueFailed } from './deliveries.ts';
export { NotificationCountRow, readNotificationCounts } from './metrics-views.ts';
