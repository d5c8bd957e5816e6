-- Analytics read taken payments by business date (and facility) over ranges of up to a year;
-- without this index every chart scans the whole payments table.
CREATE INDEX payments_date_facility ON payments (business_date, facility_id);
