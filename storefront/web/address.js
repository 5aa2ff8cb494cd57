// Where the shopper ships to: used for estimates on the product page, the bag and checkout.
// Only US addresses for now (countryCode US); remembered on this device.

const KEY = "bezel.shipTo.v1";
const INSURE_KEY = "bezel.insure.v1";

export const DEFAULT_SHIP_TO = Object.freeze({ countryCode: "US", provinceCode: "NY", zip: "10001" });

export const US_STATES = [
  ["AL", "Alabama"], ["AK", "Alaska"], ["AZ", "Arizona"], ["AR", "Arkansas"], ["CA", "California"],
  ["CO", "Colorado"], ["CT", "Connecticut"], ["DE", "Delaware"], ["DC", "District of Columbia"],
  ["FL", "Florida"], ["GA", "Georgia"], ["HI", "Hawaii"], ["ID", "Idaho"], ["IL", "Illinois"],
  ["IN", "Indiana"], ["IA", "Iowa"], ["KS", "Kansas"], ["KY", "Kentucky"], ["LA", "Louisiana"],
  ["ME", "Maine"], ["MD", "Maryland"], ["MA", "Massachusetts"], ["MI", "Michigan"], ["MN", "Minnesota"],
  ["MS", "Mississippi"], ["MO", "Missouri"], ["MT", "Montana"], ["NE", "Nebraska"], ["NV", "Nevada"],
  ["NH", "New Hampshire"], ["NJ", "New Jersey"], ["NM", "New Mexico"], ["NY", "New York"],
  ["NC", "North Carolina"], ["ND", "North Dakota"], ["OH", "Ohio"], ["OK", "Oklahoma"], ["OR", "Oregon"],
  ["PA", "Pennsylvania"], ["RI", "Rhode Island"], ["SC", "South Carolina"], ["SD", "South Dakota"],
  ["TN", "Tennessee"], ["TX", "Texas"], ["UT", "Utah"], ["VT", "Vermont"], ["VA", "Virginia"],
  ["WA", "Washington"], ["WV", "West Virginia"], ["WI", "Wisconsin"], ["WY", "Wyoming"],
];

export function stateName(code) {
  return US_STATES.find(([c]) => c === code)?.[1] ?? code;
}

export function isZip(zip) {
  return /^\d{5}(-\d{4})?$/.test(String(zip).trim());
}

/** {countryCode, provinceCode, zip}: the last one the shopper chose, else New York 10001. */
export function shipTo() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) ?? "null");
    if (saved && isZip(saved.zip) && US_STATES.some(([c]) => c === saved.provinceCode)) {
      return { countryCode: "US", provinceCode: saved.provinceCode, zip: saved.zip };
    }
  } catch {
    // fall through to the default
  }
  return { ...DEFAULT_SHIP_TO };
}

export function saveShipTo({ provinceCode, zip }) {
  localStorage.setItem(KEY, JSON.stringify({ countryCode: "US", provinceCode, zip: String(zip).trim() }));
}

/** Whether the shopper wants the shipment insured (default yes: these are high-value pieces). */
export function insure() {
  return localStorage.getItem(INSURE_KEY) !== "false";
}

export function saveInsure(value) {
  localStorage.setItem(INSURE_KEY, value ? "true" : "false");
}
