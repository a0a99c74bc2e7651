-- The monthly flow is an aggregate now (0005): nothing reads people by entry date.
DROP INDEX people_entered;
